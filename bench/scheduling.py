"""Bridgedesk scheduling benchmark: reschedule one large project, time it.

    .venv/bin/python -m config.embedded -- .venv/bin/python bench/scheduling.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/scheduling.py

Never part of the test suite. It works in a database of its own
(`bridgedesk_bench_sched` by default) on the server DATABASE_URL points at (the embedded
PostgreSQL when unset), made afresh and dropped at the end unless --keep, so the app's
data is never touched.

It seeds one project of --tasks tasks and --links dependencies (acyclic: every link runs
from a lower to a higher task number; random types and lags, leads included), assignees
with capacities (some on a four-day week), milestones, a Monday-to-Friday calendar with
holidays and some completed tasks; then times `projects.scheduling.project_reschedule`,
each call in its own transaction as the services make it, in three situations:

- unchanged: nothing moved since the last run (reads and compute only);
- one estimate: the estimate of the first task on the critical path alternates between
  two values (+40 h) before each call (untimed), so everything downstream of it moves
  and is written back, milestones and their outbox events included;
- everything: "today" alternates between two dates 13 weeks apart (past every start
  date), so every open task and every milestone moves: the worst case of the write-back.

For each: median and p95 wall time of --repeat calls after --warmup, queries per call,
and the issue's target (≤ 200 ms for 2,000 tasks and 3,000 dependencies).

Then the board (issue 4): a second project, made by `projects.services.project_create`
with its default columns, whose board holds --board-cards cards (To do, In progress,
Review and Done in proportions a long-running project has), with assignees from a team of
fifteen, labels, estimates, due dates, milestones and --board-links dependencies,
forecast once. Through Django's test client, logged in as the project's owner (a project
manager), it times GET /projects/<key>/board/ plain and with each kind of swimlane
(?lanes=assignee, ?lanes=milestone): median, p95, CPU, queries per request, and the
target (p95 ≤ 80 ms for 1,000 cards). Then it moves a card --repeat times (after
--warmup) to the next open column, just below a card there, with
`projects.services.task_move` and through the board's htmx POST: median, p95, queries
and UPDATEs of projects_task per move, and the target (one UPDATE: no open column is
done, so no move reschedules). --part runs one half only; --board-cards 0 skips the board.

The machine may be shared: the load average is printed with each half. The outbox's
publish tasks go to a file-system broker in a temporary folder no worker reads, and the
status pages' cache versions to a temporary cache (a key prefix of their own with Redis),
so nothing of this database reaches the app's workers or pages.
"""

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

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
}
TARGET_MS = 200
BOARD_TARGET_MS = 80
# Share of the board's cards in To do, In progress, Review and Done (the default columns).
BOARD_SPREAD = (0.5, 0.1, 0.05, 0.35)
BOARD_LABELS = ["backend", "frontend", "ops", "security", "docs", "ux", "data", "bug",
                "tech debt", "customer", "spike", "blocked"]  # fmt: skip


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--links", type=int, default=3000, help="dependencies")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per situation")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--db-name", default="bridgedesk_bench_sched")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    parser.add_argument(
        "--board-cards", type=int, default=1000, help="cards on the board (0: skip)"
    )
    parser.add_argument("--board-links", type=int, default=500, help="dependencies on the board")
    parser.add_argument(
        "--part",
        choices=["all", "reschedule", "board"],
        default="all",
        help="measure rescheduling, the board, or both",
    )
    parser.add_argument(
        "--task-fillfactor",
        type=int,
        metavar="PERCENT",
        help="set projects_task's fillfactor before seeding (what a migration could do), "
        "to see what room for HOT updates does to the write-back",
    )
    args = parser.parse_args(argv)
    if args.tasks < 10 or args.repeat < 1 or args.warmup < 0:
        parser.error("--tasks at least 10, --repeat at least 1, --warmup not negative")
    if args.links > args.tasks * (args.tasks - 1) // 2:
        parser.error("more links than pairs of tasks")
    if args.board_cards and args.board_cards < 20:
        parser.error("--board-cards 0 (no board) or at least 20")
    if args.board_cards and args.board_links > args.board_cards * (args.board_cards - 1) // 2:
        parser.error("more board links than pairs of cards")
    return args


# --- The plan ---------------------------------------------------------------------------


def seed(args, today: date):
    """One project as a large real one looks."""
    from django.contrib.auth.models import User

    from config.models import BusinessCalendar, BusinessHours, Holiday
    from projects.models import Capacity, Column, Dependency, Milestone, Project, Task

    rng = random.Random(args.seed)
    office = BusinessCalendar.objects.create(name="Bench office", time_zone="Europe/Berlin")
    short_week = BusinessCalendar.objects.create(name="Bench four days", time_zone="Europe/Berlin")
    BusinessHours.objects.bulk_create(
        [BusinessHours(calendar=office, weekday=d, start="09:00", end="17:00") for d in range(5)]
        + [BusinessHours(calendar=short_week, weekday=d, start="08:00", end="18:00")
           for d in range(4)]
    )  # fmt: skip
    # About a dozen holidays a year for three years.
    holidays = sorted({today + timedelta(days=rng.randrange(0, 3 * 365)) for _ in range(36)})
    Holiday.objects.bulk_create(
        Holiday(calendar=office, date=day, name=f"Holiday {day}") for day in holidays
    )

    people = User.objects.bulk_create(
        User(username=f"bench_sched_{i}", email=f"bench_sched_{i}@example.org") for i in range(30)
    )
    Capacity.objects.bulk_create(
        Capacity(
            user=person,
            hours_per_week=Decimal(rng.choice([40, 40, 32, 24, 20])),
            calendar=short_week if i % 5 == 0 else None,
        )
        for i, person in enumerate(people[:25])  # five people have no capacity row
    )
    project = Project.objects.create(
        key="SCHED", name="Bench scheduling", slug="bench-sched", owner=people[0],
        calendar=office, status=Project.Status.ACTIVE,
    )  # fmt: skip
    column = Column.objects.create(project=project, name="To do")
    milestones = Milestone.objects.bulk_create(
        Milestone(
            project=project,
            name=f"Milestone {i}",
            baseline_date=today + timedelta(days=30 * (i + 1)),
            target_date=today + timedelta(days=30 * (i + 1)),
        )
        for i in range(20)
    )
    done_at = datetime.combine(today - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    tasks = Task.objects.bulk_create(
        Task(
            project=project,
            column=column,
            title=f"Task {i}",
            rank=f"{i:08d}",
            estimate_hours=Decimal(rng.choice([0, 2, 4, 8, 8, 12, 16, 16, 24, 40])),
            assignee=rng.choice(people) if rng.random() < 0.9 else None,
            milestone=milestones[min(19, i * 20 // args.tasks)] if rng.random() < 0.8 else None,
            start_date=today + timedelta(days=rng.randrange(60)) if rng.random() < 0.1 else None,
            # The first twentieth is mostly done, as in a plan under way.
            completed_at=done_at if i < args.tasks // 20 and rng.random() < 0.8 else None,
        )
        for i in range(args.tasks)
    )
    pairs = set()
    while len(pairs) < args.links:
        a = rng.randrange(args.tasks - 1)
        # Mostly near neighbours (work flows on), sometimes far ahead.
        reach = 30 if rng.random() < 0.9 else args.tasks
        b = min(args.tasks - 1, a + 1 + int(rng.random() * reach))
        pairs.add((a, b))
    types = ["FS"] * 14 + ["SS"] * 3 + ["FF"] * 2 + ["SF"]
    Dependency.objects.bulk_create(
        Dependency(
            predecessor=tasks[a],
            successor=tasks[b],
            type=rng.choice(types),
            lag_days=rng.choice([0, 0, 0, 0, 1, 2, 5, -1, -2]),
        )
        for a, b in sorted(pairs)
    )
    return project


def seed_board(args, today: date):
    """A second project whose board holds --board-cards cards, written in one INSERT with
    the ranks projects.ranking gives a fresh column, then forecast once."""
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from config.roles import PROJECT_MANAGERS
    from projects.models import Dependency, Milestone, Project, Task
    from projects.ranking import initial_ranks
    from projects.scheduling import project_reschedule
    from projects.services import project_create

    rng = random.Random(args.seed + 1)
    first = ["Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas",
             "Kemal", "Lena", "Mo", "Nora", "Otto"]  # fmt: skip
    owner = User.objects.create(
        username="bench_board_owner", first_name="Petra", last_name="Planner",
        email="bench_board_owner@example.org",
    )  # fmt: skip
    owner.groups.add(Group.objects.get_or_create(name=PROJECT_MANAGERS)[0])
    team = User.objects.bulk_create(
        User(
            username=f"bench_board_{i}",
            first_name=name,
            last_name=f"Teammate {i}",
            email=f"bench_board_{i}@example.org",
        )
        for i, name in enumerate(first)
    )
    project = project_create(
        owner=owner, key="BOARD", name="Bench board", slug="bench-board",
        status=Project.Status.ACTIVE,
    )  # fmt: skip
    project.members.add(*team)
    columns = list(project.columns.order_by("position", "id"))
    milestones = Milestone.objects.bulk_create(
        Milestone(
            project=project,
            name=f"Release {i + 1}",
            baseline_date=today + timedelta(days=21 * (i + 1)),
            target_date=today + timedelta(days=21 * (i + 1)),
        )
        for i in range(8)
    )
    counts = [int(args.board_cards * share) for share in BOARD_SPREAD[: len(columns)]]
    counts[0] += args.board_cards - sum(counts)
    done_at = datetime.combine(today - timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    verbs = ["Fix", "Add", "Review", "Migrate", "Document", "Test", "Design", "Remove"]
    things = ["login flow", "VPN profile", "invoice export", "SSO & MFA", "audit log",
              "on-call rota", "<legacy> importer", "search index", "mail relay"]  # fmt: skip
    cards = []
    for column, count in zip(columns, counts, strict=True):
        for rank in initial_ranks(count):
            n = len(cards) + 1
            cards.append(
                Task(
                    project=project,
                    column=column,
                    title=f"{rng.choice(verbs)} the {rng.choice(things)} ({n})",
                    rank=rank,
                    estimate_hours=Decimal(rng.choice([0, 1, 2, 4, 4, 8, 8, 16, 24, 40])),
                    assignee=rng.choice(team) if rng.random() < 0.85 else None,
                    milestone=rng.choice(milestones) if rng.random() < 0.8 else None,
                    labels=rng.sample(BOARD_LABELS, rng.choice([0, 1, 1, 2, 2, 3])),
                    due_date=today + timedelta(days=rng.randrange(-10, 120))
                    if rng.random() < 0.3
                    else None,
                    completed_at=done_at if column.is_done else None,
                )
            )
    tasks = Task.objects.bulk_create(cards)
    pairs = set()
    while len(pairs) < args.board_links:
        a = rng.randrange(len(tasks) - 1)
        b = min(len(tasks) - 1, a + 1 + int(rng.random() * (20 if rng.random() < 0.9 else 500)))
        pairs.add((a, b))
    Dependency.objects.bulk_create(
        Dependency(predecessor=tasks[a], successor=tasks[b]) for a, b in sorted(pairs)
    )
    with transaction.atomic():  # forecasts and critical flags, as the cards show them
        project_reschedule(project=project, today=today)
    return project, owner, counts, len(team) + 1


# --- Measuring --------------------------------------------------------------------------


def median_p95(times) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank) of `times` in seconds, in ms."""
    ordered = sorted(times)
    return statistics.median(times) * 1000, ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000


def span(values) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def measure(label, project, *, repeat, warmup, before=None, today_for=None):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from projects import scheduling

    # Count the task rows each call writes back.
    written = []
    write = scheduling._write_task_forecasts

    def counting_write(rows):
        written.append(len(rows))
        write(rows)

    scheduling._write_task_forecasts = counting_write
    times, cpu, queries, moved, rows = [], [], [], [], []
    for i in range(warmup + repeat):
        if before:
            before(i)
        written.clear()
        with CaptureQueriesContext(connection) as captured:
            start, start_cpu = time.perf_counter(), time.process_time()
            with transaction.atomic():
                result = scheduling.project_reschedule(project=project, today=today_for(i))
            elapsed = time.perf_counter() - start
            elapsed_cpu = time.process_time() - start_cpu
        if i >= warmup:
            times.append(elapsed)
            cpu.append(elapsed_cpu)
            # BEGIN/COMMIT are not queries Django counts; savepoints would be.
            queries.append(len(captured.captured_queries))
            moved.append(len(result))
            rows.append(sum(written))
    scheduling._write_task_forecasts = write
    median, p95 = median_p95(times)
    verdict = "ok" if p95 <= TARGET_MS else "MISSED"
    return (
        f"{label:<14} {median:8.1f} {p95:8.1f} {statistics.median(cpu) * 1000:8.1f} "
        f"{span(queries):>8} "
        f"{statistics.median(rows):>7g} {statistics.median(moved):>10g}   "
        f"p95≤{TARGET_MS} {verdict}"
    )


def timed(call, *, repeat, warmup, before=None):
    """Run `call(i)` warmup + repeat times; for the timed ones: wall and CPU seconds, the
    queries Django ran and what the call returned. `before(i)` runs untimed first and
    its result is passed on."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples = []
    for i in range(warmup + repeat):
        argument = before(i) if before else i
        with CaptureQueriesContext(connection) as captured:
            start, start_cpu = time.perf_counter(), time.process_time()
            outcome = call(argument)
            elapsed = time.perf_counter() - start
            elapsed_cpu = time.process_time() - start_cpu
        if i >= warmup:
            samples.append((elapsed, elapsed_cpu, captured.captured_queries, outcome))
    return samples


def measure_board(label, client, url, *, cards, repeat, warmup):
    def get(i):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response.content

    samples = timed(get, repeat=repeat, warmup=warmup)
    _, p95 = median_p95([s[0] for s in samples])
    content = samples[-1][3]
    shown = content.count(b'<li class="task-card')
    if shown != cards:
        raise RuntimeError(f"GET {url} showed {shown} cards of {cards}")
    verdict = "ok" if p95 <= BOARD_TARGET_MS else "MISSED"
    return board_row(
        label,
        samples,
        f"{len(content) / 1024:>7.0f} {shown:>7}",
        f"p95≤{BOARD_TARGET_MS} {verdict}",
    )


def board_row(label, samples, middle: str, target: str) -> str:
    """A line of the board's table: the label, median and p95 wall time, median CPU
    time, queries, then `middle` and the target."""
    median, p95 = median_p95([s[0] for s in samples])
    cpu = statistics.median(s[1] for s in samples) * 1000
    queries = span([len(s[2]) for s in samples])
    return f"{label:<26} {median:8.1f} {p95:8.1f} {cpu:8.1f} {queries:>8} {middle}   {target}"


def task_updates(queries) -> int:
    return sum(1 for query in queries if query["sql"].startswith('UPDATE "projects_task" '))


def measure_moves(label, move, pick, *, repeat, warmup):
    samples = timed(move, repeat=repeat, warmup=warmup, before=pick)
    updates = [task_updates(s[2]) for s in samples]
    verdict = "ok" if set(updates) == {1} else "MISSED"
    return board_row(label, samples, f"{span(updates):>7} {'':>7}", f"1 UPDATE {verdict}")


def run_board(args, today: date) -> None:
    from django.test import Client
    from django.urls import reverse

    from projects import services
    from projects.models import Task

    start = time.perf_counter()
    project, owner, counts, people = seed_board(args, today)
    seeded = time.perf_counter() - start
    columns = list(project.columns.order_by("position", "id"))
    spread = ", ".join(f"{c.name} {n}" for c, n in zip(columns, counts, strict=True))
    print(
        f"\nBoard {project.key}: seed and first forecast {seeded:.1f}s · {args.board_cards} "
        f"cards ({spread}), {args.board_links} dependencies, {people} people, "
        f"{project.milestones.count()} milestones · load average {load_average()}"
    )
    client = Client()
    client.force_login(owner)
    board_url = reverse("projects:board", args=[project.key])
    print(
        f"{args.repeat} timed requests or moves after {args.warmup} warm-ups, as the owner\n"
        f"{'page':<26} {'median':>8} {'p95 ms':>8} {'CPU ms':>8} {'queries':>8} {'KB':>7} "
        f"{'cards':>7}"
    )
    for label, query in [
        ("GET board", ""),
        ("GET board, assignee lanes", "?lanes=assignee"),
        ("GET board, milestone lanes", "?lanes=milestone"),
    ]:
        print(
            measure_board(
                label,
                client,
                board_url + query,
                cards=args.board_cards,
                repeat=args.repeat,
                warmup=args.warmup,
            )
        )

    # Each move takes a card of one open column to the next (To do → In progress →
    # Review → To do), just below a card there; none crosses into or out of Done.
    rng = random.Random(args.seed + 2)
    open_columns = [column for column in columns if not column.is_done]
    fields = ("id", "project_id", "column_id", "rank", "title", "completed_at")

    def pick(i):
        source = open_columns[i % len(open_columns)]
        target = open_columns[(i + 1) % len(open_columns)]
        task = rng.choice(list(Task.objects.filter(column=source).only(*fields)))
        after = rng.choice(list(Task.objects.filter(column=target).only(*fields)) or [None])
        return task, target, after

    def move(picked):
        task, column, after = picked
        return services.task_move(task=task, column=column, after=after, actor=owner)

    def post_move(picked):
        task, column, after = picked
        response = client.post(
            reverse("projects:board_move", args=[project.key, task.pk]),
            {"column": column.pk, "after": after.pk if after else ""},
            headers={"HX-Request": "true"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"the move answered {response.status_code}")
        return response

    print(f"{'move':<26} {'median':>8} {'p95 ms':>8} {'CPU ms':>8} {'queries':>8} {'UPDATEs':>7}")
    print(measure_moves("task_move()", move, pick, repeat=args.repeat, warmup=args.warmup))
    print(
        measure_moves("POST move (htmx)", post_move, pick, repeat=args.repeat, warmup=args.warmup)
    )
    print(
        "CPU ms: median CPU time of this Python process; KB: the page's size; cards: the "
        "cards on it; UPDATEs: UPDATE statements on projects_task per move"
    )


def run_reschedule(args, today: date, migrated: float) -> None:
    from projects.models import Task

    start = time.perf_counter()
    if args.task_fillfactor:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE projects_task SET (fillfactor = {int(args.task_fillfactor)})"
            )
    project = seed(args, today)
    seeded = time.perf_counter() - start
    print(
        f"Database {args.db_name!r}: migrate {migrated:.1f}s, seed {seeded:.1f}s · "
        f"{args.tasks} tasks, {args.links} dependencies · {os.cpu_count()} CPUs, "
        f"load average {load_average()}"
    )

    def change_estimate(i):
        Task.objects.filter(pk=changed.pk).update(estimate_hours=estimates[i % 2])

    def fixed_today(i):
        return today

    def alternating_today(i):
        return today + timedelta(weeks=13 * (i % 2))

    # The first call writes every forecast; the situations start from there.
    measure("first", project, repeat=1, warmup=0, today_for=fixed_today)
    changed = (
        Task.objects.filter(project=project, is_critical=True, estimate_hours__gt=0)
        .order_by("forecast_start", "pk")
        .first()
    )
    estimates = [changed.estimate_hours, changed.estimate_hours + 40]
    print(
        f"\n{args.repeat} timed calls after {args.warmup} warm-ups, each in its own "
        "transaction\n"
        f"{'situation':<14} {'median':>8} {'p95 ms':>8} {'CPU ms':>8} {'queries':>8} "
        f"{'tasks':>7} {'milestones':>10}"
    )
    for label, options in [
        ("unchanged", {"today_for": fixed_today}),
        ("one estimate", {"today_for": fixed_today, "before": change_estimate}),
        ("everything", {"today_for": alternating_today}),
    ]:
        print(measure(label, project, repeat=args.repeat, warmup=args.warmup, **options))
    print(
        "CPU ms: median CPU time of this Python process (the database's work excluded); "
        "tasks, milestones: median number of task rows written back and of milestones "
        "whose forecast moved (one outbox event each) per call"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Folders of its own, removed at the end: WhiteNoise wants STATIC_ROOT to exist (the
    # bench serves no static files); the outbox's publish tasks go to a file-system broker
    # no worker reads (ids of this database mean other projects in the app's); the status
    # pages' cache versions go to a cache of their own (or under a prefix of their own).
    scratch = []

    def scratch_folder(variable, prefix):
        scratch.append(tempfile.mkdtemp(prefix=f"bridgedesk-bench-{prefix}-"))
        os.environ[variable] = scratch[-1]

    if not os.environ.get("STATIC_ROOT"):
        scratch_folder("STATIC_ROOT", "static")
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    scratch_folder("BROKER_DIR", "broker")
    if os.environ.get("REDIS_URL"):
        os.environ["CACHE_KEY_PREFIX"] = f"bench-sched-{os.getpid()}-{time.time_ns()}"
    else:
        scratch_folder("CACHE_DIR", "cache")
    url = server_url()
    refuse_app_database(url, args.db_name)
    create_database(url, args.db_name)
    os.environ["DATABASE_URL"] = with_database(url, args.db_name)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.utils import timezone

        if "testserver" not in settings.ALLOWED_HOSTS:  # the test client's host
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        start = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        migrated = time.perf_counter() - start
        today = timezone.localdate()
        if args.part != "board":
            run_reschedule(args, today, migrated)
        else:
            print(f"Database {args.db_name!r}: migrate {migrated:.1f}s · {os.cpu_count()} CPUs")
        if args.part != "reschedule" and args.board_cards:
            run_board(args, today)
        print(f"\nLoad average at the end: {load_average()}")
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
        if args.keep:
            print(f"\nKept database {args.db_name!r}.")
        else:
            drop_database(url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
