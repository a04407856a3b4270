"""Seed a large help desk into the bench database, fast.

Small tables (people, queues, SLA policies, projects) go through the ORM. Tickets, their
events and tags are drawn in one pass in Python and streamed by COPY over three
connections at once, so PostgreSQL ingests while Python draws. For the load:

- FK triggers are off (`session_replication_role = replica`, which needs a superuser
  connection, as the embedded server gives); `check_integrity` then proves every
  reference with anti-joins, so nothing unchecked reaches the pages.
- Secondary indexes (those not backing a constraint) are dropped first and rebuilt from
  their own definitions afterwards, several at a time: a sorted build is much faster than
  a million single inserts, and the GIN index on search_vector above all.
- search_vector is filled set-based in SQL with the very expression of
  helpdesk.services.ticket_refresh_search, either while moving the tickets from an
  unlogged staging table into place (`copy`, the default: one write per row) or by one
  UPDATE … FROM the aggregated events after the load (`update`: every row written twice,
  so the table carries a dead copy of each row until reused). `check_search_vectors`
  compares a sample with what the service itself computes.
- SLA due dates are business time on the policies' calendars, counted by an in-memory
  table of working intervals that agrees with helpdesk.sla.add_business_seconds (checked
  on a sample) and is some twenty times faster.
"""

import bisect
import itertools
import json
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from datetime import time as clock

from bench.text import COMMON_WORD, SELECTIVE_WORD, Prose

QUEUES = [
    # name, slug, key, share of tickets, SLA policy
    ("Service desk", "service-desk", "SD", 0.60, "Office hours"),
    ("Network", "network", "NET", 0.25, "Around the clock"),
    ("Applications", "applications", "APP", 0.15, "Office hours"),
]
AGENTS_COUNT = 50  # including the bench agent, who is in every queue
PMS_COUNT = 10  # including the bench PM
STAKEHOLDERS_COUNT = 20
TICKET_SPAN_DAYS = 365
CONTACTS_PER_TICKET = 0.2
PROJECTS_PER_TICKET = 0.002
MAX_PROJECTS = 500  # projects do not grow with the ticket count for ever

# name: (time zone, working hours per weekday or None for 24×7, policy, targets per priority
# as (first response, resolution) business minutes)
SLA_POLICIES = {
    "Office hours": (
        "Europe/London",
        [(day, clock(8), clock(18)) for day in range(5)],
        {"P1": (30, 240), "P2": (120, 600), "P3": (240, 1800), "P4": (480, 3000)},
    ),
    "Around the clock": (
        "UTC",
        None,
        {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (480, 4320)},
    ),
}
HOLIDAYS = [(1, 1), (12, 25), (12, 26), (5, 1), (8, 25)]  # (month, day), every year

TAGS = [
    "vpn", "wifi", "printer", "outlook", "teams", "password", "new-starter", "leaver",
    "hardware", "software", "licence", "access", "phone", "laptop", "monitor", "vip",
    "security", "backup", "sharepoint", "sap", "network", "onboarding", "major-incident",
    "follow-up", "vendor",
]  # fmt: skip
TAGGED_SHARE = 0.35

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
# Conversation after the ticket is created (besides assignment and closing events).
TALK_COUNT_WEIGHTS = {0: 15, 1: 30, 2: 30, 3: 15, 4: 10}
TALK_KIND_WEIGHTS = {"reply": 50, "note": 20, "call": 10, "requester": 15, "change": 5}
DETAIL_TALK = ["reply", "requester", "note", "reply", "call", "change", "requester", "reply"]
CLOSED = ("resolved", "closed")
PAUSED = ("pending", "on_hold")
SEARCHED_KINDS = ("reply", "note", "call")  # what ticket_refresh_search reads (weight C)

# The columns the bench writes, as model attnames. If the model grows a column, seeding
# stops and names it rather than leave it at a default no one chose.
TICKET_COLUMNS = [
    "id", "queue_id", "number", "subject", "description", "requester_id", "status",
    "priority", "type", "source", "assignee_id", "project_id", "milestone_id", "secret",
    "version", "first_response_due", "first_response_at", "resolution_due", "resolved_at",
    "acknowledged_at", "sla_policy_id", "sla_paused_at", "sla_paused_seconds",
    "sla_warned_at", "first_response_breached_at", "resolution_breached_at",
    "snoozed_until", "snoozed_until_milestone_id", "merged_into_id", "created_at",
    "updated_at", "keep_requester_informed",
]  # fmt: skip
EVENT_COLUMNS = [
    "ticket_id", "kind", "body", "public", "author_id", "author_contact_id", "changes",
    "message_id", "created_at", "source_key",
]  # fmt: skip
# Callers of project-linked tickets who asked to hear of plan changes.
KEPT_INFORMED_SHARE = 0.05


_CUMULATIVE = {}


def weighted(rng: random.Random, weights: dict):
    """One key of `weights` (a module constant), drawn in proportion to its value."""
    table = _CUMULATIVE.get(id(weights))
    if table is None:
        cumulative = list(itertools.accumulate(weights.values()))
        table = _CUMULATIVE[id(weights)] = (list(weights), cumulative, cumulative[-1])
    population, cumulative, total = table
    return population[bisect.bisect(cumulative, rng.random() * total)]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- Business time, fast ------------------------------------------------------------------


class IntervalClock:
    """helpdesk.sla.add_business_seconds over a fixed span, by binary search in a table of
    working intervals and the business time before each. Exact (timedelta arithmetic);
    used only for starts inside [first, last]."""

    def __init__(self, schedule, first: datetime, last: datetime):
        self.always_open = schedule.always_open
        self.starts, self.ends, self.before, self.until = [], [], [], []
        total = timedelta()
        for begin, end in schedule.intervals_from(first):
            if end is None or begin > last:
                break
            self.starts.append(begin)
            self.ends.append(end)
            self.before.append(total)
            total += end - begin
            self.until.append(total)

    def add(self, start: datetime, seconds: int) -> datetime:
        if self.always_open or not seconds:
            return start + timedelta(seconds=seconds)
        i = bisect.bisect_right(self.starts, start) - 1
        if i >= 0 and start < self.ends[i]:
            position = self.before[i] + (start - self.starts[i])
        else:
            position = self.before[i + 1]
        goal = position + timedelta(seconds=seconds)
        # The first interval that reaches the goal, ending exactly there included, as
        # add_business_seconds lands at an interval's end rather than the next start.
        k = bisect.bisect_left(self.until, goal)
        return self.starts[k] + (goal - self.before[k])


# --- Raw connections for the bulk load ----------------------------------------------------


class Loader:
    """Connections of our own for COPY and the set-based statements, with triggers off."""

    def __init__(self, url: str, jobs: int):
        self.url = url
        self.jobs = max(1, jobs)

    def connect(self):
        import psycopg
        from psycopg import errors

        conn = psycopg.connect(self.url, autocommit=True)
        try:
            conn.execute("SET session_replication_role = replica")
        except errors.InsufficientPrivilege:
            conn.close()
            raise SystemExit(
                "The bench loads with FK triggers off, which needs a superuser connection "
                "(the embedded PostgreSQL is one); point DATABASE_URL at such a server."
            ) from None
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        conn.execute("SET synchronous_commit = off")
        return conn

    def run_all(self, statements: list[tuple[str, dict | None]]) -> None:
        """Run `statements` on `jobs` connections at once, each statement once."""
        local = threading.local()
        opened = []
        lock = threading.Lock()

        def run(statement):
            if not hasattr(local, "conn"):
                local.conn = self.connect()
                with lock:
                    opened.append(local.conn)
            sql, params = statement
            local.conn.execute(sql, params)

        try:
            with ThreadPoolExecutor(self.jobs) as pool:
                list(pool.map(run, statements))
        finally:
            for conn in opened:
                conn.close()


def secondary_indexes(conn, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of `table` that back no constraint."""
    return conn.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname
        """,
        [table],
    ).fetchall()


def id_ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """(low, high] id ranges splitting 1..n into `parts`."""
    size = -(-n // parts)
    return [(low, min(low + size, n)) for low in range(0, n, size)]


# --- The seeder ---------------------------------------------------------------------------


class Seeder:
    def __init__(self, *, url: str, tickets: int, seed: int, search_fill: str, jobs: int):
        from django.utils import timezone

        self.rng = random.Random(seed)
        self.loader = Loader(url, jobs)
        self.search_fill = search_fill
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.n_tickets = tickets
        self.n_contacts = max(50, round(tickets * CONTACTS_PER_TICKET))
        self.n_projects = min(MAX_PROJECTS, max(5, round(tickets * PROJECTS_PER_TICKET)))
        self.timings: list[tuple[str, float]] = []

    def step(self, label, func):
        start = time.perf_counter()
        result = func()
        self.timings.append((label, time.perf_counter() - start))
        return result

    def run(self) -> dict:
        """Seed everything; returns what the measuring needs to know (kept in bench_meta)."""
        self.check_columns()
        self.step("people", self.people)
        self.step("SLA, tags", self.sla_and_tags)
        self.step("projects", self.projects)
        self.step("drop indexes", self.drop_indexes)
        self.step("tickets+events COPY", self.tickets)
        self.step(f"search vectors ({self.search_fill})", self.fill_search)
        self.step("indexes", self.create_indexes)
        self.step("checks", self.checks)
        self.step("vacuum analyze", self.vacuum)
        return {
            "tickets": self.n_tickets,
            "events": self.event_count,
            "contacts": self.n_contacts,
            "detail_ticket_id": self.detail_ticket_id,
            "detail_events": self.detail_events,
            "deep_ticket_id": max(1, self.n_tickets // 10),
            "selective_word": SELECTIVE_WORD,
            "common_word": COMMON_WORD,
            "search_fill": self.search_fill,
            "search_check": self.search_check,
            "seeded_at": self.now.isoformat(),
            "timings": self.timings,
        }

    def check_columns(self):
        from helpdesk.models import Ticket, TicketEvent

        for model, columns, ignored in (
            (Ticket, TICKET_COLUMNS, {"search_vector"}),
            (TicketEvent, EVENT_COLUMNS, {"id"}),
        ):
            fields = {f.attname for f in model._meta.concrete_fields} - ignored
            if fields != set(columns):
                unknown = ", ".join(sorted(fields - set(columns))) or "-"
                gone = ", ".join(sorted(set(columns) - fields)) or "-"
                raise SystemExit(
                    f"bench/seed.py is out of date with {model.__name__}: new fields {unknown}; "
                    f"fields gone {gone}. Teach the seeder what to put in them."
                )

    # --- Small tables, through the ORM ------------------------------------------------

    def people(self):
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import Group, User
        from django.db import connection

        from config.roles import AGENTS, PROJECT_MANAGERS, STAKEHOLDERS
        from helpdesk.models import Contact, Queue

        roles = (AGENTS, PROJECT_MANAGERS, STAKEHOLDERS)
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles}
        unusable = make_password(None)  # nobody logs in with a password

        def user(username, first, last):
            return User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@staff.example",
                password=unusable,
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
        self.usernames = {u.pk: u.username for u in agents}
        UserGroup = User.groups.through
        UserGroup.objects.bulk_create(
            [UserGroup(user_id=u.pk, group_id=groups[AGENTS].pk) for u in agents]
            + [UserGroup(user_id=u.pk, group_id=groups[PROJECT_MANAGERS].pk) for u in pms]
            + [UserGroup(user_id=u.pk, group_id=groups[STAKEHOLDERS].pk) for u in stakeholders]
        )

        self.queues = Queue.objects.bulk_create(
            Queue(name=name, slug=slug, key=key, is_public=slug == "service-desk")
            for name, slug, key, *_ in QUEUES
        )
        self.queue_cum = list(itertools.accumulate(share for *_, share, _ in QUEUES))
        # The bench agent works every queue; every other agent one queue, a third of them two.
        self.queue_members = [[agents[0].pk] for _ in self.queues]
        for i, agent in enumerate(agents[1:]):
            home = i % len(self.queues)
            self.queue_members[home].append(agent.pk)
            if i % 3 == 0:
                self.queue_members[(home + 1) % len(self.queues)].append(agent.pk)
        Member = Queue.members.through
        Member.objects.bulk_create(
            Member(queue_id=queue.pk, user_id=user_id)
            for queue, user_ids in zip(self.queues, self.queue_members, strict=True)
            for user_id in user_ids
        )

        table = Contact._meta.db_table
        sql = f"COPY {quote(table)} (email, name, organisation, created_at) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for i in range(self.n_contacts):
                copy.write_row(
                    (
                        f"caller{i:07d}@example.org",
                        f"Caller {i:07d}",
                        f"Department {i % 40}",
                        self.now,
                    )
                )
        rows = Contact.objects.order_by("pk").values_list("pk", "name")
        self.contacts = list(rows)

    def sla_and_tags(self):
        from config.models import BusinessCalendar, BusinessHours, Holiday
        from helpdesk import sla
        from helpdesk.models import Queue, SLAPolicy, SLATarget, Tag

        first = self.now - timedelta(days=TICKET_SPAN_DAYS + 7)
        last = self.now + timedelta(days=120)
        self.policies, self.clocks = {}, {}
        for name, (tz, hours, targets) in SLA_POLICIES.items():
            calendar = BusinessCalendar.objects.create(name=name, time_zone=tz)
            if hours:
                BusinessHours.objects.bulk_create(
                    BusinessHours(calendar=calendar, weekday=d, start=s, end=e) for d, s, e in hours
                )
                years = range(first.year, last.year + 1)
                Holiday.objects.bulk_create(
                    Holiday(calendar=calendar, date=date(y, m, d), name="Bank holiday")
                    for y in years
                    for m, d in HOLIDAYS
                )
            policy = SLAPolicy.objects.create(name=name, calendar=calendar)
            SLATarget.objects.bulk_create(
                SLATarget(policy=policy, priority=p, first_response_minutes=f, resolution_minutes=r)
                for p, (f, r) in targets.items()
            )
            schedule = sla.Schedule.from_calendar(calendar)
            clock_ = IntervalClock(schedule, first, last)
            # The fast clock must agree with the service's arithmetic.
            rng = random.Random(len(name))
            for _ in range(300):
                start = self.now - timedelta(seconds=rng.randrange(TICKET_SPAN_DAYS * 86400))
                minutes = rng.choice([m for pair in targets.values() for m in pair])
                expected = sla.add_business_seconds(schedule, start, minutes * 60)
                assert clock_.add(start, minutes * 60) == expected, (name, start, minutes)
            self.policies[name] = (policy.pk, targets)
            self.clocks[policy.pk] = clock_
        for queue, (*_, policy_name) in zip(self.queues, QUEUES, strict=True):
            queue.default_sla_policy_id = self.policies[policy_name][0]
        Queue.objects.bulk_update(self.queues, ["default_sla_policy"])
        self.tag_ids = [t.pk for t in Tag.objects.bulk_create(Tag(name=n) for n in TAGS)]

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
                target = baseline + timedelta(days=rng.choice([0, 0, 0, 7, 14, 30]))
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
        # project id -> ([milestone ids], [ids of milestones not completed])
        self.project_milestones = {p.pk: ([], []) for p in projects}
        for m in milestones:
            every, waiting = self.project_milestones[m.project_id]
            every.append(m.pk)
            if m.completed_at is None:
                waiting.append(m.pk)
        self.project_ids = [p.pk for p in projects]

    # --- The big tables ---------------------------------------------------------------

    def drop_indexes(self):
        from helpdesk.models import Ticket, TicketEvent

        tables = [
            Ticket._meta.db_table,
            TicketEvent._meta.db_table,
            Ticket.tags.through._meta.db_table,
        ]
        conn = self.loader.connect()
        try:
            self.dropped = [d for t in tables for d in secondary_indexes(conn, t)]
            for name, _ in self.dropped:
                conn.execute(f"DROP INDEX {quote(name)}")
        finally:
            conn.close()

    def tickets(self):
        from helpdesk.models import Ticket, TicketEvent

        ticket_table = Ticket._meta.db_table
        columns = {f.attname: f.column for f in Ticket._meta.concrete_fields}
        ticket_columns = ", ".join(quote(columns[a]) for a in TICKET_COLUMNS)
        event_columns = {f.attname: f.column for f in TicketEvent._meta.concrete_fields}
        event_sql = (
            f"COPY {quote(TicketEvent._meta.db_table)} "
            f"({', '.join(quote(event_columns[a]) for a in EVENT_COLUMNS)}) FROM STDIN"
        )
        through = Ticket.tags.through._meta
        tag_sql = (
            f"COPY {quote(through.db_table)} ({quote(through.get_field('ticket').column)}, "
            f"{quote(through.get_field('tag').column)}) FROM STDIN"
        )
        tickets_conn, events_conn, tags_conn = (self.loader.connect() for _ in range(3))
        try:
            if self.search_fill == "copy":
                # Staged with the text of the searched events beside each ticket; moved into
                # place with its search vector by fill_search.
                tickets_conn.execute("DROP TABLE IF EXISTS bench_ticket_stage")
                tickets_conn.execute(
                    f"CREATE UNLOGGED TABLE bench_ticket_stage AS SELECT {ticket_columns}, "  # noqa: S608 - our own table names
                    f"''::text AS bench_replies FROM {quote(ticket_table)} WITH NO DATA"
                )
                ticket_sql = f"COPY bench_ticket_stage ({ticket_columns}, bench_replies) FROM STDIN"
            else:
                ticket_sql = f"COPY {quote(ticket_table)} ({ticket_columns}) FROM STDIN"
            with (
                tickets_conn.cursor().copy(ticket_sql) as tickets,
                events_conn.cursor().copy(event_sql) as events,
                tags_conn.cursor().copy(tag_sql) as tags,
            ):
                self.draw(tickets.write_row, events.write_row, tags.write_row)
            tickets_conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                [ticket_table, self.n_tickets],
            )
        finally:
            for conn in (tickets_conn, events_conn, tags_conn):
                conn.close()

        from helpdesk.models import Queue

        for queue, last in zip(self.queues, self.numbers, strict=True):
            Queue.objects.filter(pk=queue.pk).update(next_number=last + 1)

    def draw(self, write_ticket, write_event, write_tag):
        """Draw every ticket with its events and tags, in id order, and write them."""
        rng, now, n = self.rng, self.now, self.n_tickets
        prose = Prose(random.Random(rng.random()))
        staged = self.search_fill == "copy"
        start = now - timedelta(days=TICKET_SPAN_DAYS)
        step = timedelta(days=TICKET_SPAN_DAYS) / n
        queue_ids = [q.pk for q in self.queues]
        queue_keys = [q.key for q in self.queues]
        queue_policy = [self.policies[policy][0] for *_, policy in QUEUES]
        targets = {
            (pk, priority): (first * 60, resolution * 60)
            for pk, pairs in self.policies.values()
            for priority, (first, resolution) in pairs.items()
        }
        contacts, usernames = self.contacts, self.usernames
        numbers = [0] * len(self.queues)
        last_in_queue = [None] * len(self.queues)
        middle = n // 2 + 1
        self.detail_ticket_id = middle
        self.event_count = 0
        status_weights = [(limit, weights) for limit, weights in STATUS_WEIGHTS_BY_AGE]
        no_changes = "{}"
        assigned = {pk: json.dumps({"assignee": [None, name]}) for pk, name in usernames.items()}
        closing = {status: json.dumps({"status": ["open", status]}) for status in CLOSED}
        reprioritised = {
            p: json.dumps({"priority": ["P3" if p != "P3" else "P4", p]}) for p in PRIORITY_WEIGHTS
        }
        minute = timedelta(minutes=1)

        for tid in range(1, n + 1):
            created = start + step * (tid - 1)
            age = (now - created).days
            status = weighted(rng, next(w for limit, w in status_weights if age < limit))
            q = bisect.bisect_left(self.queue_cum, rng.random() * self.queue_cum[-1])
            numbers[q] += 1
            members = self.queue_members[q]
            detail = tid == middle
            if detail:
                status = "open"
            assignee = None
            if status != "new" or rng.random() < 0.2:
                assignee = rng.choice(members)
            contact_id, who = contacts[rng.randrange(len(contacts))]
            priority = weighted(rng, PRIORITY_WEIGHTS)
            source = weighted(rng, SOURCE_WEIGHTS)
            subject = prose.subject(who)
            description = prose.description(who)
            project_id = milestone_id = snooze_milestone = None
            waiting = ()
            if rng.random() < 0.05:
                project_id = rng.choice(self.project_ids)
                every, waiting = self.project_milestones[project_id]
                milestone_id = rng.choice(every)
            closed = status in CLOSED

            policy = queue_policy[q]
            first_s, resolution_s = targets[(policy, priority)]
            clock_ = self.clocks[policy]
            first_due = clock_.add(created, first_s)
            resolution_due = clock_.add(created, resolution_s)
            resolved_at = None
            if closed:
                resolved_at = min(
                    created + (resolution_due - created) * rng.uniform(0.15, 1.3), now - minute
                )
            first_at = None
            if status != "new":
                first_at = created + (first_due - created) * rng.uniform(0.1, 1.4)
                first_at = min(first_at, resolved_at or now)
                if first_at >= now:
                    first_at = None
            paused_at = None
            if status in PAUSED:
                paused_at = created + (now - created) * rng.uniform(0.2, 0.9)
            # Breaches as the sweep would have recorded them by now.
            first_end = first_at or resolved_at or now
            first_breached = first_due if first_end > first_due else None
            if closed:
                resolution_breached = resolution_due if resolved_at > resolution_due else None
            elif paused_at is not None:
                resolution_breached = resolution_due if resolution_due < paused_at else None
            else:
                resolution_breached = resolution_due if resolution_due < now else None
            warned = None
            if first_breached or resolution_breached:
                warned = min(d for d in (first_breached, resolution_breached) if d) - 60 * minute
            snoozed_until = merged_into = None
            if not closed and not detail:
                if rng.random() < 0.01:
                    snoozed_until = now + timedelta(minutes=rng.randint(30, 96 * 60))
                elif project_id and waiting and rng.random() < 0.2:
                    snooze_milestone = rng.choice(waiting)
            elif closed and last_in_queue[q] and rng.random() < 0.003:
                merged_into = last_in_queue[q]
                status = "closed"
            last_in_queue[q] = tid

            # The timeline: created, assignment, conversation, closing.
            kinds = []
            if assignee:
                kinds.append("assignment")
            if detail:
                kinds += DETAIL_TALK
            elif merged_into is None:
                talk = weighted(rng, TALK_COUNT_WEIGHTS)
                kinds += [weighted(rng, TALK_KIND_WEIGHTS) for _ in range(talk)]
            if merged_into:
                kinds.append("merge")
            elif closed:
                kinds.append("status")
            span = max((resolved_at or now - minute) - created, timedelta())
            offsets = sorted(rng.random() for _ in kinds)
            message_id = (
                f"<t{tid}.{created:%Y%m%d%H%M%S}@mail.example.org>" if source == "email" else ""
            )
            write_event(
                (
                    tid,
                    "created",
                    description,
                    True,
                    None,
                    contact_id,
                    no_changes,
                    message_id,
                    created,
                    "",
                )
            )
            searched = []
            author = assignee or members[0]
            at = created
            for kind, offset in zip(kinds, offsets, strict=True):
                at = created + span * offset
                if kind == "assignment":
                    row = (tid, kind, "", False, author, None, assigned[author], "", at)
                elif kind == "reply":
                    body = prose.reply()
                    searched.append(body)
                    row = (tid, kind, body, True, author, None, no_changes, "", at)
                elif kind == "requester":
                    body = prose.requester_reply(who)
                    searched.append(body)
                    row = (tid, "reply", body, True, None, contact_id, no_changes, "", at)
                elif kind == "note":
                    body = prose.note()
                    searched.append(body)
                    row = (tid, kind, body, False, author, None, no_changes, "", at)
                elif kind == "call":
                    body = prose.call(who)
                    searched.append(body)
                    row = (tid, kind, body, False, author, None, no_changes, "", at)
                elif kind == "change":
                    row = (tid, kind, "", False, author, None, reprioritised[priority], "", at)
                elif kind == "status":
                    row = (tid, kind, "", False, author, None, closing[status], "", at)
                else:  # merge
                    target = f"{queue_keys[q]}-{numbers[q] - 1}"
                    changes = {"status": ["open", "closed"], "merged_into": [None, merged_into]}
                    row = (tid, kind, f"Merged into {target}.", False, author, None,
                           json.dumps(changes), "", at)  # fmt: skip
                write_event((*row, ""))  # no source_key: people wrote these
            self.event_count += 1 + len(kinds)
            if detail:
                self.detail_events = 1 + len(kinds)

            if rng.random() < TAGGED_SHARE:
                for tag_id in rng.sample(self.tag_ids, rng.choice((1, 1, 2))):
                    write_tag((tid, tag_id))

            row = (
                tid, queue_ids[q], numbers[q], subject, description, contact_id, status,
                priority, weighted(rng, TYPE_WEIGHTS), source, assignee, project_id,
                milestone_id, secrets.token_urlsafe(32), 1 + len(kinds), first_due, first_at,
                resolution_due, resolved_at, created, policy, paused_at, 0, warned,
                first_breached, resolution_breached, snoozed_until, snooze_milestone,
                merged_into, created, at,
                project_id is not None and rng.random() < KEPT_INFORMED_SHARE,
            )  # fmt: skip
            write_ticket((*row, " ".join(searched)) if staged else row)
        self.numbers = numbers

    def fill_search(self):
        """search_vector as helpdesk.services.ticket_refresh_search computes it: subject
        A, description B, the searched events' bodies C, in settings.SEARCH_CONFIG."""
        from django.conf import settings

        from helpdesk.models import Ticket, TicketEvent

        table = quote(Ticket._meta.db_table)
        events = quote(TicketEvent._meta.db_table)
        columns = {f.attname: f.column for f in Ticket._meta.concrete_fields}
        names = ", ".join(quote(columns[a]) for a in TICKET_COLUMNS)
        vector = """
            setweight(to_tsvector(%(config)s::regconfig, coalesce({t}.subject, '')), 'A')
            || setweight(to_tsvector(%(config)s::regconfig, coalesce({t}.description, '')), 'B')
            || setweight(to_tsvector(%(config)s::regconfig, coalesce({replies}, '')), 'C')
        """
        kinds = ", ".join(f"'{k}'" for k in SEARCHED_KINDS)
        statements = []
        for low, high in id_ranges(self.n_tickets, self.loader.jobs * 4):
            params = {"config": settings.SEARCH_CONFIG, "low": low, "high": high}
            if self.search_fill == "copy":
                expression = vector.format(t="s", replies="s.bench_replies")
                sql = (
                    f"INSERT INTO {table} ({names}, search_vector) "  # noqa: S608 - our own table names
                    f"SELECT {', '.join('s.' + quote(columns[a]) for a in TICKET_COLUMNS)}, "
                    f"{expression} FROM bench_ticket_stage s "
                    "WHERE s.id > %(low)s AND s.id <= %(high)s ORDER BY s.id"
                )
            else:
                expression = vector.format(t="t", replies="a.bodies")
                # In timeline order, as the copy fill joins them (see check_search_vectors).
                sql = f"""
                    UPDATE {table} t SET search_vector = {expression}
                    FROM (
                        SELECT t2.id, r.bodies FROM {table} t2 LEFT JOIN (
                            SELECT ticket_id,
                                string_agg(body, ' ' ORDER BY created_at, id) AS bodies
                            FROM {events}
                            WHERE kind IN ({kinds})
                              AND ticket_id > %(low)s AND ticket_id <= %(high)s
                            GROUP BY ticket_id
                        ) r ON r.ticket_id = t2.id
                        WHERE t2.id > %(low)s AND t2.id <= %(high)s
                    ) a
                    WHERE t.id = a.id
                """  # noqa: S608 - our own table names
            statements.append((sql, params))
        self.loader.run_all(statements)
        if self.search_fill == "copy":
            self.loader.run_all([("DROP TABLE bench_ticket_stage", None)])

    def create_indexes(self):
        # Largest first, so the two connections finish together.
        statements = sorted(
            ((sql, None) for _, sql in self.dropped),
            key=lambda s: ("gin" not in s[0].lower(), "ticketevent" not in s[0]),
        )
        self.loader.run_all(statements)

    def checks(self):
        self.check_integrity()
        self.check_search_vectors()

    def check_integrity(self):
        """Every reference the FK triggers would have checked during the load."""
        from django.db import connection

        from helpdesk.models import Ticket, TicketEvent

        models = [Ticket, TicketEvent, Ticket.tags.through]
        checks = []
        for model in models:
            for field in model._meta.concrete_fields:
                if field.is_relation:
                    target = field.related_model._meta
                    checks.append(
                        (
                            f"{model._meta.db_table}.{field.column}",
                            f"SELECT count(*) FROM {quote(model._meta.db_table)} x "  # noqa: S608 - our own table names
                            f"WHERE x.{quote(field.column)} IS NOT NULL AND NOT EXISTS ("
                            f"SELECT 1 FROM {quote(target.db_table)} y "
                            f"WHERE y.{quote(target.pk.column)} = x.{quote(field.column)})",
                        )
                    )
        with connection.cursor() as cursor:
            for label, sql in checks:
                cursor.execute(sql)
                missing = cursor.fetchone()[0]
                if missing:
                    raise SystemExit(f"seeding bug: {missing} rows of {label} point nowhere")

    def check_search_vectors(self, sample: int = 200):
        """The stored vectors of a sample of tickets equal what
        helpdesk.services.ticket_refresh_search computes for them.

        Exactly, for tickets with at most one searched event. With more, the service's
        string_agg has no ORDER BY, so it joins the bodies in whatever order its plan reads
        the rows (after a bulk load, not even insertion order) and positions in the C part
        follow that order; the bench joins them in timeline order. Those must agree on
        every lexeme, its weights and its number of positions."""
        from collections import Counter

        from django.db import connection

        from helpdesk.models import Ticket, TicketEvent
        from helpdesk.services import ticket_refresh_search

        rng = random.Random(7)
        ids = sorted({rng.randint(1, self.n_tickets) for _ in range(sample)} | {1})
        searched = Counter(
            TicketEvent.objects.filter(ticket_id__in=ids, kind__in=SEARCHED_KINDS).values_list(
                "ticket_id", flat=True
            )
        )
        assert any(count > 1 for count in searched.values()), "no sampled ticket has replies"
        table = quote(Ticket._meta.db_table)
        sql = f"""
            SELECT id, search_vector::text, (
                SELECT array_agg(
                    lexeme || ':' || array_length(positions, 1) || ':'
                    || array_to_string(array(SELECT w FROM unnest(weights) w ORDER BY w), '')
                    ORDER BY lexeme
                ) FROM unnest(search_vector)
            )
            FROM {table} WHERE id = ANY(%s)
        """  # noqa: S608 - our own table names
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids])
            seeded = {pk: (text, words) for pk, text, words in cursor.fetchall()}
            for pk in ids:
                ticket_refresh_search(pk)
            cursor.execute(sql, [ids])
            computed = {pk: (text, words) for pk, text, words in cursor.fetchall()}
        identical = sum(seeded[pk][0] == computed[pk][0] for pk in ids)
        for pk in ids:
            exact = searched[pk] <= 1
            same = seeded[pk][0] == computed[pk][0] if exact else seeded[pk][1] == computed[pk][1]
            if not same:
                raise SystemExit(
                    f"seeding bug: search_vector of ticket {pk} differs from "
                    f"ticket_refresh_search: {seeded[pk][0]!r} != {computed[pk][0]!r}"
                )
        self.search_check = (
            f"search_vector of {len(ids)} sampled tickets as ticket_refresh_search computes "
            f"it: {identical} identical, {len(ids) - identical} the same lexemes and weights "
            "with the reply bodies in another order"
        )

    def vacuum(self):
        """What autovacuum would have done by now on a real server: planner statistics and
        the visibility map (index-only scans)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
