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
"""

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

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


def admin_run(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def create_database(url: str, name: str) -> None:
    admin_run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_run(url, f'CREATE DATABASE "{name}"')


def drop_database(url: str, name: str) -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
    admin_run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


# --- Measuring --------------------------------------------------------------------------


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
    ordered = sorted(times)
    median = statistics.median(times) * 1000
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000
    low, high = min(queries), max(queries)
    verdict = "ok" if p95 <= TARGET_MS else "MISSED"
    return (
        f"{label:<14} {median:8.1f} {p95:8.1f} {statistics.median(cpu) * 1000:8.1f} "
        f"{low if low == high else f'{low}–{high}':>8} "
        f"{statistics.median(rows):>7g} {statistics.median(moved):>10g}   "
        f"p95≤{TARGET_MS} {verdict}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    url = server_url()
    if urlsplit(url).path.lstrip("/") == args.db_name:
        sys.exit(f"DATABASE_URL already points at {args.db_name!r}; use --db-name.")
    create_database(url, args.db_name)
    os.environ["DATABASE_URL"] = with_database(url, args.db_name)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        from projects.models import Task

        start = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        migrated = time.perf_counter() - start
        today = timezone.localdate()
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
            f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
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
    finally:
        if args.keep:
            print(f"\nKept database {args.db_name!r}.")
        else:
            drop_database(url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
