"""Bridgedesk bridge benchmark: a milestone move reaching the help desk, timed end to end.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m config.embedded -- \\
        .venv/bin/python bench/bridge.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bridge.py --sizes 1000
    ... bench/bridge.py --back-to-back                  # moves one right after the other
    ... bench/bridge.py --back-to-back --split-status   # the status queue on a worker of its own

Never part of the test suite. It works in a database of its own (`bridgedesk_bench_bridge`
by default) on the server DATABASE_URL points at (the embedded PostgreSQL when unset),
made afresh and dropped at the end unless --keep, so the app's data is never touched.

It starts a real Celery worker as docker-compose runs it (prefork, --concurrency 2, queues
status, email, default) on the broker the app would use: Redis when REDIS_URL or
CELERY_BROKER_URL is set, under a key prefix of its own so no other worker on that Redis
takes its tasks (its keys are deleted at the end); else a file-system broker in a folder of
its own (the issue's targets are for Redis). For each size N it seeds one project
affecting two of three queues with N open linked tickets (5% of whose callers asked to be
kept informed), N/5 closed linked ones and --background unrelated tickets, bulk-inserted
with one INSERT … SELECT each; then moves a milestone --repeat times through
projects.services.milestone_reschedule in this process, as the PM's page does, and times
each from the commit to the moment all the move's events are published, i.e. every note,
caller update and bulletin committed (polled every --poll-ms). Each move is checked: one
note per open linked ticket, the bulletins at the latest event, no dead letter.

By default each move starts on a quiet system, once the previous move's caller e-mails
are sent. --back-to-back moves again as soon as a move is published: with one worker for
all queues, a plan change then waits behind those e-mails; --split-status runs the status
queue on a worker of its own to compare.

Reported per N: median, p95 and max of that end-to-end time, the worker-side part
(commit until the last event's published_at, without the polling), the notes per move,
and the issue's target (1,000 linked tickets: p95 ≤ 1 s; 10,000: ≤ 5 s). The machine is
shared: the load average is printed before and after.
"""

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.run import (  # noqa: E402 - after the path is set
    create_database,
    drop_database,
    load_average,
    refuse_app_database,
    server_url,
    with_database,
)

# Production settings; set before django.setup(); values already in the environment win.
ENV_DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "bench-only-key-not-for-production-" + "x" * 40,
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "STATIC_MANIFEST": "false",
    "DATABASE_CONN_MAX_AGE": "3600",
    "LOG_LEVEL": "WARNING",
    # Caller updates are rendered and "sent" by the worker, into memory.
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
# linked tickets -> p95 target in seconds (issue 5, "Speed")
TARGETS = {1000: 1.0, 10000: 5.0}
DEFAULT_REPEAT = {1000: 20, 10000: 7}
INFORMED_SHARE = 0.05
CLOSED_SHARE = 0.2
FIRST_DATE = date(2027, 3, 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="comma-separated numbers of open linked tickets, one project each",
    )
    parser.add_argument(
        "--repeat", type=int, help="timed moves per size (default: 20 up to 1,000, else 7)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed moves per size first")
    parser.add_argument(
        "--background", type=int, default=20000, help="unrelated tickets in the queues"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="how often to look")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per move at most")
    parser.add_argument("--db-name", default="bridgedesk_bench_bridge")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--back-to-back",
        action="store_true",
        help="move again as soon as a move is published, without waiting for its caller "
        "e-mails to go out: shows the status queue waiting behind the e-mail queue",
    )
    parser.add_argument(
        "--split-status",
        action="store_true",
        help="two workers instead of one: the status queue alone (one pool process) and "
        "email + default (--concurrency minus one): plan changes never wait behind mail",
    )
    parser.add_argument(
        "--worker-log",
        metavar="PATH",
        help="keep the worker's log there (with --split-status, PATH.status and PATH.mail)",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--sizes: numbers separated by commas, e.g. 1000,10000")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes: at least one size, each at least 1")
    if (args.repeat is not None and args.repeat < 1) or args.warmup < 0 or args.background < 0:
        parser.error("--repeat at least 1, --warmup and --background not negative")
    return args


def repeat_for(args, size: int) -> int:
    if args.repeat:
        return args.repeat
    return DEFAULT_REPEAT.get(size, 20 if size <= 1000 else 7)


# --- The broker and the worker ----------------------------------------------------------


class Broker:
    """Where this run's tasks go: a key prefix of its own on the Redis the app would use,
    or a file-system broker folder of its own. Set up before django.setup()."""

    def __init__(self):
        self.redis_url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL", "")
        if self.redis_url and not self.redis_url.startswith("redis"):
            sys.exit(
                f"bench/bridge.py knows Redis and the file-system broker, not {self.redis_url}"
            )
        self.folder = None
        self.prefix = f"bench-bridge-{uuid.uuid4().hex[:10]}:"
        if self.redis_url:
            os.environ["BROKER_KEY_PREFIX"] = self.prefix
            os.environ["CACHE_KEY_PREFIX"] = self.prefix.rstrip(":")
            self.label = f"Redis {urlsplit(self.redis_url).netloc} (key prefix {self.prefix})"
        else:
            self.folder = tempfile.mkdtemp(prefix="bridgedesk-bench-broker-")
            os.environ["BROKER_DIR"] = self.folder
            self.label = "file-system broker (the targets are for Redis)"

    def idle(self) -> bool:
        """Nothing waits in the queues and (Redis) nothing is taken and unfinished."""
        if self.folder:
            return not any(Path(self.folder, "queue").iterdir())
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        waiting = sum(client.llen(self.prefix + q) for q in ("status", "email", "default"))
        return waiting == 0 and client.hlen(self.prefix + "unacked") == 0

    def cleanup(self) -> None:
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        for key in client.scan_iter(match=self.prefix + "*", count=1000):
            client.delete(key)


class Worker:
    """A real Celery worker in a process group of its own, always stopped at the end."""

    def __init__(self, concurrency: int, queues: str, name: str, log: str | None = None):
        self.keep_log = bool(log)
        if log:
            self.log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        else:
            self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
                prefix="bridgedesk-bench-worker-", suffix=".log", delete=False
            )
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        argv += ["--pool", "prefork", "--concurrency", str(concurrency)]
        argv += ["-Q", queues, "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        argv += ["-n", f"bench-bridge-{name}-{os.getpid()}@%h"]
        env = {**os.environ, "LOG_LEVEL": "INFO"}
        self.process = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        sys.exit(f"The worker did not start; its log:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log_file.close()
        if not self.keep_log:
            Path(self.log_file.name).unlink(missing_ok=True)


# --- The plan and the help desk ---------------------------------------------------------


def seed_people_and_queues():
    from django.contrib.auth.models import Group, User

    from config.roles import AGENTS, PROJECT_MANAGERS
    from helpdesk.models import Contact, Queue

    pm = User.objects.create(username="bench_pm", first_name="Bench", last_name="Manager")
    pm.groups.add(Group.objects.get_or_create(name=PROJECT_MANAGERS)[0])
    liaison = User.objects.create(username="bench_liaison", first_name="Lia", last_name="Ison")
    liaison.groups.add(Group.objects.get_or_create(name=AGENTS)[0])
    queues = [
        Queue.objects.create(name=name, slug=slug, key=key)
        for name, slug, key in (
            ("Service desk", "service-desk", "SD"),
            ("Network", "network", "NET"),
            ("Applications", "applications", "APP"),
        )
    ]
    queues[0].members.add(liaison)
    callers = Contact.objects.bulk_create(
        Contact(email=f"caller{i}@example.org", name=f"Caller {i}") for i in range(200)
    )
    return pm, liaison, queues, callers


def insert_tickets(*, queue, project, callers, count, status, informed_share=0.0) -> None:
    """`count` tickets in one INSERT … SELECT, numbers taken from the queue as the services
    do, each with its "created" event."""
    from django.db import connection

    if count <= 0:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH taken AS (UPDATE helpdesk_queue SET next_number = next_number + %(n)s"
            " WHERE id = %(queue)s RETURNING next_number - %(n)s AS first),"
            " made AS ("
            " INSERT INTO helpdesk_ticket (number, subject, description, status, priority,"
            " type, source, secret, version, created_at, updated_at, queue_id, requester_id,"
            " project_id, milestone_id, sla_paused_seconds, keep_requester_informed)"
            " SELECT taken.first + g, 'Cannot reach the VPN, call ' || g,"
            " 'The client says the gateway is unreachable.', %(status)s, 'P3', 'incident',"
            " 'phone', gen_random_uuid()::text, 1, now() - g * interval '1 minute', now(),"
            " %(queue)s, (%(callers)s)[1 + g %% cardinality(%(callers)s)], %(project)s, NULL,"
            " 0, random() < %(informed)s"
            " FROM taken, generate_series(0, %(n)s - 1) g RETURNING id, requester_id,"
            " created_at, description)"
            " INSERT INTO helpdesk_ticketevent (ticket_id, kind, body, public, changes,"
            " message_id, source_key, created_at, author_contact_id)"
            " SELECT id, 'created', description, true, '{}'::jsonb, '', '', created_at,"
            " requester_id FROM made",
            {
                "n": count,
                "queue": queue.pk,
                "status": status,
                "callers": [c.pk for c in callers],
                "project": project.pk if project else None,
                "informed": informed_share,
            },
        )


def seed_project(size: int, pm, liaison, queues, callers):
    """A project affecting two queues, its milestones, and `size` open linked tickets."""
    from django.db import connection

    from projects import services
    from projects.models import Milestone, Project

    key = f"B{size}"
    project = services.project_create(
        owner=pm,
        key=key,
        name=f"VPN replacement ({size:,} linked tickets)",
        slug=f"bench-{size}",
        status=Project.Status.ACTIVE,
        liaison=liaison,
    )
    for queue in queues[:2]:
        queue.projects.add(project)
    services.milestone_create(project=project, name="Pilot group", target_date=FIRST_DATE)
    cutover = services.milestone_create(
        project=project, name="Cutover", target_date=FIRST_DATE + timedelta(weeks=1)
    )
    services.milestone_create(
        project=project, name="Old VPN switched off", target_date=FIRST_DATE + timedelta(weeks=8)
    )
    services.milestone_create(
        project=project,
        name="Go-live",
        target_date=FIRST_DATE + timedelta(weeks=10),
        kind=Milestone.Kind.GO_LIVE,
    )
    # Most calls reach the service desk, the rest the network queue.
    for queue, count in ((queues[0], size * 3 // 4), (queues[1], size - size * 3 // 4)):
        insert_tickets(
            queue=queue,
            project=project,
            callers=callers,
            count=count,
            status="open",
            informed_share=INFORMED_SHARE,
        )
        insert_tickets(
            queue=queue,
            project=project,
            callers=callers,
            count=round(count * CLOSED_SHARE),
            status="closed",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return project, cutover


def seed_background(queues, callers, count: int) -> None:
    for i, queue in enumerate(queues):
        part = count // len(queues) + (1 if i < count % len(queues) else 0)
        insert_tickets(queue=queue, project=None, callers=callers, count=part, status="closed")


# --- Measuring --------------------------------------------------------------------------


def wait_published(project, after_id: int, *, timeout: float, poll: float):
    """Poll until every event of `project` newer than `after_id` is published; returns
    (the moment it was seen, the events)."""
    from projects.models import ProjectEvent

    deadline = time.perf_counter() + timeout
    while True:
        rows = list(
            ProjectEvent.objects.filter(project=project, pk__gt=after_id).values_list(
                "pk", "kind", "sequence", "published_at", "dead_at"
            )
        )
        now = time.perf_counter()
        if rows and all(published or dead for _, _, _, published, dead in rows):
            return now, rows
        if now > deadline:
            raise SystemExit(f"events of {project.key} not published after {timeout:.0f} s")
        time.sleep(poll)


def check_move(project, event_id: int, expected_notes: int) -> list[str]:
    """What is wrong with the help desk after a move: notes not exactly one per open
    linked ticket, a bulletin behind the latest event, a dead letter."""
    from django.db import connection

    from liaison.models import Bulletin
    from liaison.publish import source_key
    from projects.models import ProjectEvent

    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT ticket_id) FROM helpdesk_ticketevent"
            " WHERE source_key = %s",
            [source_key(ProjectEvent(pk=event_id))],
        )
        notes, tickets = cursor.fetchone()
    if notes != expected_notes or tickets != notes:
        problems.append(f"{notes} notes on {tickets} tickets, expected {expected_notes}")
    last = ProjectEvent.objects.filter(project=project).order_by("-sequence")[0]
    behind = Bulletin.objects.filter(project=project, active=True, sequence__lt=last.sequence)
    if behind.exists():
        problems.append(f"{behind.count()} bulletins behind event #{last.sequence}")
    dead = ProjectEvent.objects.filter(project=project, dead_at__isnull=False).count()
    if dead:
        problems.append(f"{dead} dead letters")
    return problems


def wait_quiet(broker, *, timeout: float) -> None:
    """Until the worker has nothing left to do: every caller update e-mailed (their
    Message-ID stored) and the broker's queues empty."""
    from helpdesk.models import TicketEvent

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        unsent = TicketEvent.objects.filter(
            public=True, message_id="", source_key__startswith="project-event:"
        ).exists()
        if not unsent and broker.idle():
            return
        time.sleep(0.1)
    raise SystemExit(f"the worker was still busy after {timeout:.0f} s")


def percentile(values, share: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1]


def measure(args, broker, size, project, cutover, pm):
    from django.db import transaction
    from django.utils import timezone

    from helpdesk.models import Ticket
    from projects import services
    from projects.models import Milestone, ProjectEvent

    poll = args.poll_ms / 1000
    expected = (
        Ticket.objects.filter(project=project, merged_into=None)
        .exclude(status__in=Ticket.CLOSED_STATUSES)
        .count()
    )
    repeat = repeat_for(args, size)
    end_to_end, worker_side, problems, events_per_move = [], [], [], []
    for i in range(args.warmup + repeat):
        if not args.back_to_back:
            wait_quiet(broker, timeout=args.timeout)
        last_id = ProjectEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        milestone = Milestone.objects.get(pk=cutover.pk)
        # Alternate between two dates, so every move moves the same distance.
        target = FIRST_DATE + timedelta(weeks=2 - i % 2)
        committed = {}
        with transaction.atomic():
            # Registered first, so it runs at the commit, before the enqueues.
            transaction.on_commit(
                lambda marks=committed: marks.update(at=time.perf_counter(), wall=timezone.now())
            )
            services.milestone_reschedule(
                milestone=milestone, target_date=target, reason=f"Bench move {i}", actor=pm
            )
        seen, rows = wait_published(project, last_id, timeout=args.timeout, poll=poll)
        move = next(pk for pk, kind, *_ in rows if kind == "milestone_rescheduled")
        wrong = check_move(project, move, expected)
        if i < args.warmup:
            continue
        end_to_end.append(seen - committed["at"])
        last_published = max(published for *_, published, _ in rows if published)
        worker_side.append((last_published - committed["wall"]).total_seconds())
        events_per_move.append(len(rows))
        problems += [f"move {i}: {problem}" for problem in wrong]
    return {
        "size": size,
        "notes": expected,
        "moves": repeat,
        "events": statistics.median(events_per_move),
        "median": statistics.median(end_to_end),
        "p95": percentile(end_to_end, 0.95),
        "max": max(end_to_end),
        "worker_median": statistics.median(worker_side),
        "worker_p95": percentile(worker_side, 0.95),
        "problems": problems,
    }


def report(results, back_to_back: bool) -> None:
    print(
        f"\n{'linked':>8} {'notes':>7} {'moves':>5} {'events':>6} {'median s':>9} "
        f"{'p95 s':>7} {'max s':>7} {'worker p95':>10}   target"
    )
    for r in results:
        target = TARGETS.get(r["size"])
        verdict = ""
        if target is not None:
            met = r["p95"] <= target and not r["problems"]
            verdict = f"p95≤{target:g} s {'ok' if met else 'MISSED'}"
        print(
            f"{r['size']:>8,} {r['notes']:>7,} {r['moves']:>5} {r['events']:>6g} "
            f"{r['median']:>9.3f} {r['p95']:>7.3f} {r['max']:>7.3f} {r['worker_p95']:>10.3f}"
            f"   {verdict}"
        )
        for problem in r["problems"]:
            print(f"         WRONG: {problem}")
    print(
        "Times from the move's commit until all its events are published (every note, "
        "caller update and bulletin committed), as polled; worker p95: until the last "
        "published_at, without the polling. notes: per move (open linked tickets); "
        "events: per move (the move and the forecasts it shifts)."
        + (
            " Back to back: each move right after the previous one was published."
            if back_to_back
            else " Each move on a quiet system: after the previous move's caller e-mails."
        )
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    static_root = None
    if not os.environ.get("STATIC_ROOT"):
        static_root = tempfile.mkdtemp(prefix="bridgedesk-bench-static-")
        os.environ["STATIC_ROOT"] = static_root
    url = server_url()
    refuse_app_database(url, args.db_name)
    broker = Broker()
    create_database(url, args.db_name)
    os.environ["DATABASE_URL"] = with_database(url, args.db_name)
    workers = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        start = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        migrated = time.perf_counter() - start
        # They start while we seed.
        if args.split_status:
            log = args.worker_log
            workers.append(Worker(1, "status", "status", log and f"{log}.status"))
            rest = max(1, args.concurrency - 1)
            workers.append(Worker(rest, "email,default", "mail", log and f"{log}.mail"))
            layout = f"status × 1 and email, default × {rest}"
        else:
            workers.append(Worker(args.concurrency, "status,email,default", "all", args.worker_log))
            layout = f"prefork × {args.concurrency}, all queues"
        start = time.perf_counter()
        pm, liaison, queues, callers = seed_people_and_queues()
        seed_background(queues, callers, args.background)
        plans = [(size, *seed_project(size, pm, liaison, queues, callers)) for size in args.sizes]
        seeded = time.perf_counter() - start
        for worker in workers:
            worker.wait_ready()
        print(
            f"Database {args.db_name!r}: migrate {migrated:.1f}s, seed {seeded:.1f}s · "
            f"{args.background:,} background tickets · broker: {broker.label} · workers: "
            f"{layout} · {os.cpu_count()} CPUs, load average "
            f"{load_average()}"
        )
        results = []
        for size, project, cutover in plans:
            # The project's creation events, published by the worker: the desk, the
            # bulletins and the intake ticket exist before the first timed move.
            wait_published(project, 0, timeout=args.timeout, poll=0.05)
            results.append(measure(args, broker, size, project, cutover, pm))
        report(results, args.back_to_back)
        print(f"Load average after: {load_average()}")
        for worker in workers:
            if "Traceback" in worker.output():
                print("\nA worker logged a traceback:\n" + worker.output()[-3000:])
    finally:
        for worker in workers:
            worker.stop()
        broker.cleanup()
        if static_root:
            shutil.rmtree(static_root, ignore_errors=True)
        if args.keep:
            print(f"\nKept database {args.db_name!r}.")
        else:
            drop_database(url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
