"""Bridgedesk benchmark: seed a large help desk into a throwaway database, time the pages.

    make bench                                  # full scale (100,000 tickets)
    .venv/bin/python -m config.embedded -- .venv/bin/python bench/run.py --scale 0.1

Never part of the test suite. It works in a database of its own (`bridgedesk_bench` by
default) on the server DATABASE_URL points at (the embedded PostgreSQL when unset), made
afresh at the start and dropped at the end unless --keep, so the app's data is never
touched.

For each page it reports the median and 95th percentile wall time of N requests through
Django's test client (after warm-ups), the number of SQL queries per request, the median
time spent in SQL and the median time of the costliest statement; it prints EXPLAIN
ANALYZE for any SELECT whose median is over --explain-over milliseconds.
"""

import argparse
import itertools
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

# Production settings, minus what a plain-HTTP in-process client cannot do. Set before
# django.setup(); values already in the environment win.
ENV_DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "bench-only-key-not-for-production-" + "x" * 40,
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "STATIC_MANIFEST": "false",
    # One connection for the whole run: a reconnect every 60 s would land in one sample.
    "DATABASE_CONN_MAX_AGE": "3600",
    "LOG_LEVEL": "WARNING",
}

# Full-scale sizes; --scale multiplies the ones marked scaled.
QUEUES = [
    # name, slug, key, share of tickets
    ("Service desk", "service-desk", "SD", 0.60),
    ("Network", "network", "NET", 0.25),
    ("Applications", "applications", "APP", 0.15),
]
AGENTS_COUNT = 50  # including the bench agent, who is in every queue
PMS_COUNT = 10  # including the bench PM
STAKEHOLDERS_COUNT = 20
TICKETS = 100_000  # scaled
CONTACTS = 20_000  # scaled
PROJECTS = 200  # scaled
TICKET_SPAN_DAYS = 365

STATUS_WEIGHTS_BY_AGE = [
    # (younger than days, {status: weight}): recent tickets are mostly open, old ones closed
    (14, {"new": 25, "open": 35, "pending": 15, "on_hold": 5, "resolved": 15, "closed": 5}),
    (60, {"new": 2, "open": 8, "pending": 5, "on_hold": 3, "resolved": 20, "closed": 62}),
    (10**6, {"open": 1, "pending": 1, "on_hold": 1, "resolved": 5, "closed": 92}),
]
PRIORITY_WEIGHTS = {"P1": 3, "P2": 15, "P3": 60, "P4": 22}
TYPE_WEIGHTS = {"incident": 55, "request": 30, "problem": 5, "question": 10}
SOURCE_WEIGHTS = {"email": 45, "web": 30, "phone": 20, "api": 5}
PROJECT_STATUS_WEIGHTS = {"active": 50, "proposed": 15, "on_hold": 10, "done": 20, "cancelled": 5}
PROJECT_HEALTH_WEIGHTS = {"on_track": 60, "at_risk": 25, "off_track": 10, "on_hold": 5}
PROJECT_VISIBILITY_WEIGHTS = {"private": 30, "stakeholders": 40, "public": 30}
EXTRA_EVENT_WEIGHTS = {0: 10, 1: 25, 2: 35, 3: 20, 4: 10}  # plus "created": ~3 per ticket
SUBJECTS = [
    "Laptop will not connect to Wi-Fi",
    "Password reset for {who}",
    "VPN drops every few minutes",
    "Printer on floor {n} jams",
    "New starter needs accounts",
    "Outlook keeps asking for a password",
    "Cannot open shared drive",
    "Request access to the finance app",
    "Screen flickers after docking",
    "Phone extension not ringing",
]
BODY = (
    "Hello,\n\nsince this morning **{subject}**. I tried restarting, no change.\n\n"
    "- seen on my desk PC\n- colleagues see it too\n\nThanks,\n{who}"
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply ticket/contact/project counts"
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--creates", type=int, default=200, help="timed ticket_create calls")
    parser.add_argument("--db-name", default="bridgedesk_bench", help="the throwaway database")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--explain-over",
        type=float,
        default=50.0,
        metavar="MS",
        help="EXPLAIN ANALYZE any SELECT whose median is over this (0 turns it off)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1 or args.warmup < 0 or args.creates < 0:
        parser.error("--scale must be positive, --repeat at least 1, counts not negative")
    return args


# --- The throwaway database -------------------------------------------------------------


def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    from config import embedded  # starts (or joins) the embedded PostgreSQL

    return embedded.postgres_url()


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


def admin_connect(url: str):
    import psycopg

    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def create_database(url: str, name: str) -> None:
    current = urlsplit(url).path.lstrip("/")
    if current == name:
        sys.exit(f"DATABASE_URL already points at {name!r}; refusing to drop it. Use --db-name.")
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str, name: str) -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Seeding ---------------------------------------------------------------------------


# Field types whose Python values psycopg writes as they are; any other goes through the
# field's get_db_prep_save, as bulk_create would do.
PLAIN_TYPES = {
    "BigIntegerField", "BooleanField", "CharField", "DateField", "DateTimeField",
    "EmailField", "ForeignKey", "IntegerField", "PositiveIntegerField", "SlugField",
    "TextField",
}  # fmt: skip


def copy_insert(model, objs) -> int:
    """Write unsaved instances of `model` with COPY: bulk_create's job, several times faster.

    Field defaults come from the instances (Model.__init__); auto_now fields left empty
    get the current time, as on save. The primary keys come from the table's sequence in
    row order."""
    from django.db import connection
    from django.utils import timezone

    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False)
    ]
    now = timezone.now()
    getters = []
    for f in fields:
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        prepare = None if f.get_internal_type() in PLAIN_TYPES else f.get_db_prep_save
        getters.append((f.attname, auto, prepare))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            row = []
            for attname, auto, prepare in getters:
                value = getattr(obj, attname)
                if value is None and auto:
                    value = now
                row.append(value if prepare is None else prepare(value, connection))
            copy.write_row(row)
            count += 1
    return count


_CUMULATIVE = {}


def weighted(rng: random.Random, weights: dict):
    """One key of `weights` (a module constant), drawn in proportion to its value."""
    if id(weights) not in _CUMULATIVE:
        _CUMULATIVE[id(weights)] = (list(weights), list(itertools.accumulate(weights.values())))
    population, cumulative = _CUMULATIVE[id(weights)]
    return rng.choices(population, cum_weights=cumulative)[0]


class Seeder:
    def __init__(self, scale: float, seed: int):
        from django.utils import timezone

        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.n_tickets = max(100, round(TICKETS * scale))
        self.n_contacts = max(50, round(CONTACTS * scale))
        self.n_projects = max(5, round(PROJECTS * scale))
        self.timings: list[tuple[str, float]] = []

    def step(self, label, func):
        start = time.perf_counter()
        result = func()
        self.timings.append((label, time.perf_counter() - start))
        return result

    def run(self):
        self.step("users, queues, contacts", self.people)
        self.step("projects, milestones", self.projects)
        self.step("tickets", self.tickets)
        self.step("events", self.events)
        self.step("vacuum analyze", self.vacuum)

    def people(self):
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import Group, User

        from config.roles import AGENTS, PROJECT_MANAGERS, STAKEHOLDERS
        from helpdesk.models import Contact, Queue

        roles = (AGENTS, PROJECT_MANAGERS, STAKEHOLDERS)
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles}

        def user(username, first, last):
            return User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@staff.example",
                password=make_password(None),  # unusable: nobody logs in with a password
            )

        agents = [user("bench_agent", "Bench", "Agent")] + [
            user(f"agent{i:02d}", f"Agent{i:02d}", "Example") for i in range(1, AGENTS_COUNT)
        ]
        pms = [user("bench_pm", "Bench", "Manager")] + [
            user(f"pm{i:02d}", f"Pm{i:02d}", "Example") for i in range(1, PMS_COUNT)
        ]
        stakeholders = [
            user(f"stakeholder{i:02d}", f"Holder{i:02d}", "Example")
            for i in range(STAKEHOLDERS_COUNT)
        ]
        User.objects.bulk_create(agents + pms + stakeholders)
        self.agents, self.pms, self.stakeholders = agents, pms, stakeholders
        UserGroup = User.groups.through
        UserGroup.objects.bulk_create(
            [UserGroup(user_id=u.pk, group_id=groups[AGENTS].pk) for u in agents]
            + [UserGroup(user_id=u.pk, group_id=groups[PROJECT_MANAGERS].pk) for u in pms]
            + [UserGroup(user_id=u.pk, group_id=groups[STAKEHOLDERS].pk) for u in stakeholders]
        )

        self.queues = Queue.objects.bulk_create(
            Queue(name=name, slug=slug, key=key, is_public=slug == "service-desk")
            for name, slug, key, _ in QUEUES
        )
        self.queue_shares = [share for *_, share in QUEUES]
        # The bench agent works every queue; every other agent one queue, a third of them two.
        self.queue_members = {q.pk: [agents[0].pk] for q in self.queues}
        for i, agent in enumerate(agents[1:]):
            home = self.queues[i % len(self.queues)]
            self.queue_members[home.pk].append(agent.pk)
            if i % 3 == 0:
                other = self.queues[(i + 1) % len(self.queues)]
                self.queue_members[other.pk].append(agent.pk)
        Member = Queue.members.through
        Member.objects.bulk_create(
            Member(queue_id=queue_id, user_id=user_id)
            for queue_id, user_ids in self.queue_members.items()
            for user_id in user_ids
        )

        contacts = Contact.objects.bulk_create(
            (
                Contact(
                    email=f"caller{i:06d}@example.org",
                    name=f"Caller {i:06d}",
                    organisation=f"Department {i % 40}",
                )
                for i in range(self.n_contacts)
            ),
            batch_size=5000,
        )
        self.contacts = [(c.pk, c.name) for c in contacts]

    def projects(self):
        from projects.models import Milestone, Project

        rng, today = self.rng, self.today
        projects = []
        for i in range(self.n_projects):
            start = today + timedelta(days=rng.randint(-300, 60))
            projects.append(
                Project(
                    key=f"PRJ{i:04d}",
                    name=f"Project {i:04d} " + rng.choice(["rollout", "upgrade", "migration"]),
                    slug=f"project-{i:04d}",
                    description="Replace the **old system** with the new one.\n\n"
                    "- phase 1: pilot\n- phase 2: everyone",
                    owner_id=self.pms[i % len(self.pms)].pk,
                    liaison_id=rng.choice(self.agents).pk if rng.random() < 0.7 else None,
                    status=weighted(rng, PROJECT_STATUS_WEIGHTS),
                    health=weighted(rng, PROJECT_HEALTH_WEIGHTS),
                    visibility=weighted(rng, PROJECT_VISIBILITY_WEIGHTS),
                    start_date=start,
                    target_date=start + timedelta(days=rng.randint(60, 400)),
                )
            )
        Project.objects.bulk_create(projects)
        Stakeholder = Project.stakeholders.through
        Stakeholder.objects.bulk_create(
            Stakeholder(project_id=p.pk, user_id=u.pk)
            for p in projects
            for u in rng.sample(self.stakeholders, 2)
        )

        milestones = []
        for project in projects:
            count = rng.randint(5, 11)
            span = (project.target_date - project.start_date).days
            for m in range(count):
                baseline = project.start_date + timedelta(days=span * (m + 1) // count)
                slip = rng.choice([0, 0, 0, 7, 14, 30])
                target = baseline + timedelta(days=slip)
                kind = "regular"
                if m == count - 2:
                    kind = "go_live"
                elif m == count - 1:
                    kind = "handover"
                done = target < today
                milestones.append(
                    Milestone(
                        project=project,
                        name=f"Milestone {m + 1}",
                        kind=kind,
                        baseline_date=baseline,
                        target_date=target,
                        forecast_date=None if done else target + timedelta(days=rng.choice([0, 3])),
                        completed_at=self.now - timedelta(days=(today - target).days)
                        if done
                        else None,
                    )
                )
        Milestone.objects.bulk_create(milestones, batch_size=5000)
        self.project_milestones = {}
        for m in milestones:
            self.project_milestones.setdefault(m.project_id, []).append(m.pk)
        self.projects_list = projects

    def tickets(self):
        from helpdesk.models import Ticket

        rng, now, n = self.rng, self.now, self.n_tickets
        start = now - timedelta(days=TICKET_SPAN_DAYS)
        step = timedelta(days=TICKET_SPAN_DAYS) / n
        numbers = {q.pk: 0 for q in self.queues}
        project_ids = [p.pk for p in self.projects_list]
        # What the events need to know of each ticket, in id order.
        self.ticket_facts = []

        def generate():
            for i in range(n):
                created = start + step * i
                age = (now - created).days
                status = weighted(rng, next(w for limit, w in STATUS_WEIGHTS_BY_AGE if age < limit))
                queue = rng.choices(self.queues, weights=self.queue_shares)[0]
                numbers[queue.pk] += 1
                if status == "new" and rng.random() < 0.8:
                    assignee = None
                else:
                    assignee = rng.choice(self.queue_members[queue.pk])
                requester_id, requester_name = rng.choice(self.contacts)
                priority = weighted(rng, PRIORITY_WEIGHTS)
                subject = rng.choice(SUBJECTS).format(who=requester_name, n=i % 5 + 1)
                project_id = milestone_id = None
                if rng.random() < 0.05:
                    project_id = rng.choice(project_ids)
                    milestone_id = rng.choice(self.project_milestones[project_id])
                closed = status in ("resolved", "closed")
                first_due_hours = {"P1": 1, "P2": 4, "P3": 8, "P4": 24}[priority]
                description = BODY.format(subject=subject.lower(), who=requester_name)
                self.ticket_facts.append((created, requester_id, assignee, closed, description))
                yield Ticket(
                    queue=queue,
                    number=numbers[queue.pk],
                    subject=subject,
                    description=description,
                    requester_id=requester_id,
                    status=status,
                    priority=priority,
                    type=weighted(rng, TYPE_WEIGHTS),
                    source=weighted(rng, SOURCE_WEIGHTS),
                    assignee_id=assignee,
                    project_id=project_id,
                    milestone_id=milestone_id,
                    first_response_due=created + timedelta(hours=first_due_hours),
                    first_response_at=created + timedelta(minutes=rng.randint(5, 600))
                    if status != "new"
                    else None,
                    resolution_due=created + timedelta(days=first_due_hours // 4 + 2),
                    resolved_at=created + timedelta(hours=rng.randint(1, 200)) if closed else None,
                    acknowledged_at=created,
                    created_at=created,
                    updated_at=created + timedelta(hours=rng.randint(0, 48)),
                )

        copy_insert(Ticket, generate())
        self.ticket_ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
        assert len(self.ticket_ids) == n

    def events(self):
        from django.db.models import Max, OuterRef, Subquery

        from helpdesk.models import Queue, Ticket, TicketEvent

        rng = self.rng
        extras = {i: weighted(rng, EXTRA_EVENT_WEIGHTS) for i in range(self.n_tickets)}
        # The ticket the detail page shows: halfway down the list, with a full timeline.
        middle = self.n_tickets // 2
        extras[middle] = max(EXTRA_EVENT_WEIGHTS)
        self.detail_ticket_id = self.ticket_ids[middle]

        def generate():
            for i, ticket_id in enumerate(self.ticket_ids):
                created, requester_id, assignee, closed, description = self.ticket_facts[i]
                yield TicketEvent(
                    ticket_id=ticket_id,
                    kind="created",
                    public=True,
                    author_contact_id=requester_id,
                    body=description,  # as ticket_create writes it
                    created_at=created,
                )
                at = created
                for e in range(extras[i]):
                    at += timedelta(minutes=rng.randint(5, 600))
                    kind = ("assignment", "reply", "note", "status")[e % 4]
                    if kind == "status" and not closed:
                        kind = "reply"
                    yield TicketEvent(
                        ticket_id=ticket_id,
                        kind=kind,
                        public=kind in ("reply", "status"),
                        author_id=assignee or self.agents[0].pk,
                        body={
                            "assignment": "",
                            "reply": "Thanks, we are **on it**. Could you try:\n\n1. sign out"
                            "\n2. sign in again\n\nand tell us if it helps?",
                            "note": "Looks like the *known issue* with the proxy; see KB-12.",
                            "status": "Resolved: the fix is rolled out.",
                        }[kind],
                        created_at=at,
                    )

        self.event_count = copy_insert(TicketEvent, generate())
        # The next number of each queue follows the seeded ones, as ticket_create expects.
        last = Ticket.objects.filter(queue=OuterRef("pk")).values("queue").annotate(m=Max("number"))
        Queue.objects.update(next_number=Subquery(last.values("m")[:1]) + 1)

    def vacuum(self):
        """What autovacuum would have done by now on a real server: planner statistics and
        the visibility map (index-only scans)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")


# --- Measuring -------------------------------------------------------------------------


class SqlTimer:
    """An execute wrapper that times every statement of a request precisely
    (CaptureQueriesContext rounds to a millisecond), keyed by its SQL text."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.statements = {}  # sql -> [seconds, params of the last run]

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.statements.setdefault(sql, [0.0, None])
            entry[0] += time.perf_counter() - start
            entry[1] = params


class Result:
    def __init__(self, name, times, queries, statements):
        self.name = name
        self.times = times
        self.queries = queries
        self.sql_times = [sum(seconds for seconds, _ in s.values()) for s in statements]
        # The statement with the highest median time over the samples: one slow sample
        # on a busy machine says little, a statement slow every time says a lot.
        slowest = (0.0, "", None)
        for sql in {sql for s in statements for sql in s}:
            median = statistics.median(s[sql][0] if sql in s else 0.0 for s in statements)
            if median > slowest[0]:
                params = next(s[sql][1] for s in statements if sql in s)
                slowest = (median, sql, params)
        self.slowest_sql = slowest  # (median seconds, sql, params)

    @property
    def median_ms(self):
        return statistics.median(self.times) * 1000

    @property
    def p95_ms(self):
        ordered = sorted(self.times)
        return ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000

    @property
    def sql_median_ms(self):
        return statistics.median(self.sql_times) * 1000

    @property
    def queries_label(self):
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}–{high}"


def sample(name, call, *, repeat, warmup, check=None) -> Result:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timer = SqlTimer()
    times, queries, statements = [], [], []
    with connection.execute_wrapper(timer):
        for i in range(warmup + repeat):
            timer.reset()
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                outcome = call(i)
                elapsed = time.perf_counter() - start
            if check:
                check(outcome)
            if i >= warmup:
                times.append(elapsed)
                queries.append(len(captured.captured_queries))
                statements.append(timer.statements)
    return Result(name, times, queries, statements)


def page(client, url, *, repeat, warmup) -> Result:
    def check(response):
        if response.status_code != 200:
            sys.exit(f"GET {url} answered {response.status_code}, expected 200")

    return sample(
        f"GET {url}", lambda i: client.get(url), repeat=repeat, warmup=warmup, check=check
    )


def run_pages(seeder, args) -> list[Result]:
    from django.contrib.auth.models import User
    from django.test import Client

    from helpdesk.models import Ticket

    agent = User.objects.get(username="bench_agent")
    pm = User.objects.get(username="bench_pm")
    agent_client, pm_client = Client(), Client()
    agent_client.force_login(agent)
    pm_client.force_login(pm)

    ids = seeder.ticket_ids
    deep_id = ids[len(ids) // 10]  # 90% of the way down the newest-first list
    queue = seeder.queues[0]
    assert Ticket.objects.filter(pk=seeder.detail_ticket_id).exists()
    public = [p for p in seeder.projects_list if p.visibility == "public"] or seeder.projects_list
    project = max(public, key=lambda p: len(seeder.project_milestones[p.pk]))

    plan = [
        (agent_client, "/tickets/"),
        (agent_client, f"/tickets/?status=all&after={deep_id}"),
        (agent_client, f"/tickets/?queue={queue.slug}&assignee=me"),
        (agent_client, f"/tickets/{seeder.detail_ticket_id}/"),
        (pm_client, "/projects/"),
        (pm_client, f"/projects/{project.key}/"),
        (pm_client, "/status/"),
        (pm_client, f"/status/{project.slug}/"),
        (agent_client, "/api/v1/queues/"),
    ]
    return [page(client, url, repeat=args.repeat, warmup=args.warmup) for client, url in plan]


def run_ticket_create(seeder, args) -> Result:
    from helpdesk.services import ticket_create

    rng = random.Random(args.seed + 1)

    def call(i):
        queue = seeder.queues[i % len(seeder.queues)]
        # Mostly callers we know, now and then a new one.
        if rng.random() < 0.9:
            email = f"caller{rng.randrange(seeder.n_contacts):06d}@example.org"
        else:
            email = f"newcaller{i:06d}@example.org"
        return ticket_create(
            queue=queue,
            subject=f"Bench ticket {i}",
            requester_email=email,
            description="Created by the benchmark.",
            acknowledge=False,
        )

    return sample(f"ticket_create() ×{args.creates}", call, repeat=args.creates, warmup=args.warmup)


# --- Report ----------------------------------------------------------------------------


def header_line() -> str:
    from django.contrib.auth.models import User
    from django.db import connection

    from helpdesk.models import Contact, Queue, Ticket, TicketEvent
    from projects.models import Milestone, Project

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    counts = [
        ("tickets", Ticket.objects.count()),
        ("events", TicketEvent.objects.count()),
        ("contacts", Contact.objects.count()),
        ("queues", Queue.objects.count()),
        ("agents", User.objects.filter(groups__name="Agents").count()),
        ("projects", Project.objects.count()),
        ("milestones", Milestone.objects.count()),
    ]
    parts = [f"{count:,} {label}" for label, count in counts]
    return f"PostgreSQL {version} · " + " · ".join(parts)


def table(results: list[Result]) -> str:
    columns = ["name", "median ms", "p95 ms", "queries", "SQL ms", "top stmt ms"]
    rows = [
        [
            r.name,
            f"{r.median_ms:.1f}",
            f"{r.p95_ms:.1f}",
            r.queries_label,
            f"{r.sql_median_ms:.1f}",
            f"{r.slowest_sql[0] * 1000:.1f}",
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])


def explain_slow(results: list[Result], threshold_ms: float) -> None:
    """EXPLAIN ANALYZE each distinct slow SELECT once, naming every page it slowed."""
    from django.db import connection

    slow = {}
    for result in results:
        seconds, sql, params = result.slowest_sql
        if seconds * 1000 < threshold_ms or not sql.lstrip().upper().startswith("SELECT"):
            continue
        text = connection.ops.compose_sql(sql, params)
        entry = slow.setdefault(text, {"sql": sql, "params": params, "seconds": 0, "names": []})
        entry["seconds"] = max(entry["seconds"], seconds)
        entry["names"].append(result.name)
    for text, entry in slow.items():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + entry["sql"], entry["params"])
            plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall())
        print(
            f"\nSQL with a median over {threshold_ms:g} ms ({entry['seconds'] * 1000:.1f} ms) in:"
        )
        for name in entry["names"]:
            print(f"  {name}")
        print(f"    {text}")
        print(plan)


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # WhiteNoise wants STATIC_ROOT to exist; the bench serves no static files.
    static_root = None
    if not os.environ.get("STATIC_ROOT"):
        static_root = tempfile.mkdtemp(prefix="bridgedesk-bench-static-")
        os.environ["STATIC_ROOT"] = static_root
    url = server_url()
    create_database(url, args.db_name)
    os.environ["DATABASE_URL"] = with_database(url, args.db_name)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        if "testserver" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        start = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        migrate_seconds = time.perf_counter() - start

        seeder = Seeder(args.scale, args.seed)
        seeder.run()
        seeded = sum(seconds for _, seconds in seeder.timings)
        steps = ", ".join(f"{label} {seconds:.1f}s" for label, seconds in seeder.timings)
        print(f"Database {args.db_name!r}: migrate {migrate_seconds:.1f}s")
        print(f"Seeding took {seeded:.1f}s ({steps})")
        print(header_line())
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"{args.repeat} timed requests per page after {args.warmup} warm-ups · "
            f"{os.cpu_count()} CPUs, load average {load}\n"
        )

        results = run_pages(seeder, args)
        if args.creates:
            results.append(run_ticket_create(seeder, args))
        print(table(results))
        print(
            "SQL ms: median time per request spent in SQL; top stmt ms: median time of the "
            "statement that costs most."
        )
        if args.explain_over > 0:
            explain_slow(results, args.explain_over)
    finally:
        if static_root:
            shutil.rmtree(static_root, ignore_errors=True)
        if args.keep:
            print(f"\nKept database {args.db_name!r}.")
        else:
            drop_database(url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
