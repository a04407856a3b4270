"""Bridgedesk benchmark: seed a large help desk into a throwaway database, time the pages.

    make bench                                            # 100,000 tickets
    .venv/bin/python -m config.embedded -- .venv/bin/python bench/run.py --tickets 1000000 --keep
    .venv/bin/python -m config.embedded -- .venv/bin/python bench/run.py --skip-seed
    .venv/bin/python -m config.embedded -- .venv/bin/python bench/whatif.py  # candidate fixes

Never part of the test suite. It works in a database of its own (`bridgedesk_bench` by
default) on the server DATABASE_URL points at (the embedded PostgreSQL when unset), made
afresh at the start and dropped at the end unless --keep, so the app's data is never
touched. --skip-seed measures a database kept by an earlier --keep run again (and keeps
it); the measuring itself takes tickets ("next ticket") and creates some, so figures drift
a little from run to run. Seeding is in bench/seed.py, the prose in bench/text.py.

For each page it reports the median and 95th percentile wall time of N requests through
Django's test client (after warm-ups), the number of SQL queries per request, the median
time spent in SQL, the median time of the costliest statement, and issue 3's target for
that kind of page. It prints EXPLAIN (ANALYZE, BUFFERS) of every statement over
--explain-floor ms of each page over its target, and of any SELECT over --explain-over
ms; --profile PATTERN adds a cProfile of one request. Last, API throughput
(bench/throughput.py): a real gunicorn on 127.0.0.1 driven by wrk (or threads) for
--throughput-seconds, with the CPU each request costs the server.

The machine is shared: the load average is printed before and after, and wall times on a
busy machine say more about the machine than about the code; CPU per request and query
counts do not depend on it.
"""

import argparse
import base64
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Target:
    """What issue 3 asks of a kind of page at 1,000,000 tickets."""

    label: str
    p95_ms: float
    max_queries: int | None = None

    def met(self, result) -> bool:
        queries_ok = self.max_queries is None or max(result.queries) <= self.max_queries
        return result.p95_ms <= self.p95_ms and queries_ok

    def describe(self) -> str:
        queries = f", ≤{self.max_queries} q" if self.max_queries else ""
        return f"p95≤{self.p95_ms:g}{queries}"


LIST = Target("triage list", 50, 10)
API_LIST, API_LIST_RATE = "/api/v1/tickets/", 300
SEARCH = Target("search", 100)
TICKET = Target("ticket page", 50)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to seed")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--creates", type=int, default=200, help="timed ticket_create calls")
    parser.add_argument("--db-name", default="bridgedesk_bench", help="the throwaway database")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--skip-seed",
        action="store_true",
        help="measure the database a --keep run left (implies --keep unless --drop)",
    )
    parser.add_argument("--drop", action="store_true", help="with --skip-seed: drop it after")
    parser.add_argument(
        "--search-fill",
        choices=["copy", "update"],
        default="copy",
        help="fill search_vector while moving staged tickets into place (copy) or by one "
        "UPDATE … FROM the aggregated events after the load (update)",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="connections for bulk SQL"
    )
    parser.add_argument(
        "--explain-over",
        type=float,
        default=50.0,
        metavar="MS",
        help="EXPLAIN ANALYZE any SELECT whose median is over this (0 turns it off)",
    )
    parser.add_argument(
        "--explain-floor",
        type=float,
        default=5.0,
        metavar="MS",
        help="of a page over its target, EXPLAIN ANALYZE every SELECT over this",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="PATTERN",
        help="cProfile one request of each page whose name matches PATTERN, shell-style "
        "(e.g. 'GET /tickets/' or 'GET /api/*'; repeatable)",
    )
    parser.add_argument("--throughput-seconds", type=float, default=10, help="0 skips it")
    parser.add_argument(
        "--throughput-path",
        action="append",
        default=[],
        metavar="PATH",
        help="also drive PATH (repeatable); by default /api/v1/queues/ (token auth, "
        "middleware, DRF, 3 rows) and /healthz (Django and one SELECT 1): the ceiling of "
        "the stack on this machine",
    )
    parser.add_argument("--throughput-connections", type=int, default=8)
    parser.add_argument("--throughput-workers", type=int, default=4, help="WEB_CONCURRENCY")
    parser.add_argument("--throughput-client", choices=["auto", "wrk", "threads"], default="auto")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    args = parser.parse_args(argv)
    if args.tickets < 100 or args.repeat < 1 or args.warmup < 0 or args.creates < 0:
        parser.error("--tickets at least 100, --repeat at least 1, counts not negative")
    if args.skip_seed and not args.drop:
        args.keep = True
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


def refuse_app_database(url: str, name: str) -> None:
    if urlsplit(url).path.lstrip("/") == name:
        sys.exit(f"DATABASE_URL already points at {name!r}; refusing to use it. Use --db-name.")


def create_database(url: str, name: str) -> None:
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str, name: str) -> bool:
    with admin_connect(url) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def drop_database(url: str, name: str) -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


META_TABLE = "bench_meta"


def save_meta(meta: dict) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value jsonb)"
        )
        cursor.execute(
            f"INSERT INTO {META_TABLE} VALUES ('seed', %s) "  # noqa: S608 - our own table names
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [json.dumps(meta)],
        )


def load_meta() -> dict | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [META_TABLE])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'seed'")  # noqa: S608
        row = cursor.fetchone()
    if not row:
        return None
    # Django reads jsonb as text (its JSONField decodes it itself).
    return json.loads(row[0]) if isinstance(row[0], str) else row[0]


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
    def __init__(self, name, times, queries, statements, target=None):
        self.name = name
        self.target = target
        self.times = times
        self.queries = queries
        self.sql_times = [sum(seconds for seconds, _ in s.values()) for s in statements]
        # Statements by their median time over the samples, costliest first: one slow
        # sample on a busy machine says little, a statement slow every time says a lot.
        self.statements = []  # (median seconds, sql, params)
        for sql in {sql for s in statements for sql in s}:
            median = statistics.median(s[sql][0] if sql in s else 0.0 for s in statements)
            params = next(s[sql][1] for s in statements if sql in s)
            self.statements.append((median, sql, params))
        self.statements.sort(key=lambda entry: entry[0], reverse=True)
        self.slowest_sql = self.statements[0] if self.statements else (0.0, "", None)

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

    @property
    def target_label(self):
        if self.target is None:
            return ""
        return f"{self.target.describe()} {'ok' if self.target.met(self) else 'MISSED'}"


def sample(name, call, *, repeat, warmup, check=None, target=None) -> Result:
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
    return Result(name, times, queries, statements, target)


@dataclass
class Page:
    client: object
    url: str
    target: Target | None = None
    label: str = ""  # shown instead of the URL
    method: str = "get"
    status: int = 200
    headers: dict | None = None


def measure_page(page: Page, *, repeat, warmup) -> Result:
    name = f"{page.method.upper()} {page.label or page.url}"

    def call(i):
        return getattr(page.client, page.method)(page.url, headers=page.headers)

    def check(response):
        if response.status_code != page.status:
            raise PageFailed(f"answered {response.status_code}, expected {page.status}")
        if page.method == "post" and "/tickets/next/" in page.url:
            location = response.headers.get("Location", "")
            if not location.rstrip("/").split("/")[-1].isdigit():
                raise PageFailed(f"took no ticket (redirected to {location!r})")

    try:
        return sample(name, call, repeat=repeat, warmup=warmup, check=check, target=page.target)
    except Exception as exc:  # one broken page must not hide the figures of the others
        return Failed(name, exc)


class PageFailed(Exception):
    pass


class Failed:
    """A page that could not be measured: shown in the table as such, never dropped."""

    def __init__(self, name, exc):
        self.name = name
        self.error = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:90]
        self.statements = []
        self.target = None


def newest_first_cursor(ticket_id: int) -> str:
    """The triage cursor of a page that starts after `ticket_id` (helpdesk.triage's
    encoding for the default sort)."""
    raw = json.dumps([ticket_id, ticket_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def plan_pages(meta: dict) -> list[Page]:
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from helpdesk.models import Queue, Tag, Ticket
    from projects.models import Project

    agent = User.objects.get(username="bench_agent")
    pm = User.objects.get(username="bench_pm")
    agent_client, pm_client, api_client = Client(), Client(), Client()
    agent_client.force_login(agent)
    pm_client.force_login(pm)
    token, _ = Token.objects.get_or_create(user=agent)
    api = {"Authorization": f"Token {token.key}"}

    detail = meta["detail_ticket_id"]
    assert Ticket.objects.filter(pk=detail).exists()
    queue = Queue.objects.order_by("pk").first()
    tag = Tag.objects.order_by("pk").first()
    deep = newest_first_cursor(meta["deep_ticket_id"])
    rare_tag = rare_tag_on_old_tickets()
    selective, common = meta["selective_word"], meta["common_word"]
    public = Project.objects.filter(visibility="public") or Project.objects.all()
    project = max(public, key=lambda p: p.milestones.count())
    return [
        Page(agent_client, "/tickets/", LIST),
        Page(
            agent_client,
            f"/tickets/?status=all&cursor={deep}",
            LIST,
            "/tickets/?status=all&cursor=<90% down>",
        ),
        Page(agent_client, f"/tickets/?queue={queue.slug}&assignee=me", LIST),
        Page(agent_client, "/tickets/?priority=P1", LIST),
        Page(agent_client, "/tickets/?sla=breached", LIST),
        Page(agent_client, "/tickets/?sla=due_soon", LIST),
        Page(agent_client, "/tickets/?sort=due", LIST),
        Page(agent_client, "/tickets/?sort=priority", LIST),
        Page(agent_client, f"/tickets/?tag={tag.name}", LIST),
        Page(agent_client, f"/tickets/?tag={rare_tag}", LIST, "/tickets/?tag=<on 30 old tickets>"),
        Page(agent_client, f"/tickets/?q={selective}", SEARCH),
        Page(agent_client, f"/tickets/?q={common}", SEARCH),
        Page(agent_client, "/tickets/?fragment=counts", LIST, headers={"HX-Request": "true"}),
        Page(
            agent_client,
            f"/tickets/{detail}/",
            TICKET,
            f"/tickets/<id>/ ({meta['detail_events']} events)",
        ),
        Page(agent_client, "/tickets/next/", method="post", status=302),
        Page(api_client, "/api/v1/tickets/", headers=api),
        Page(api_client, f"/api/v1/tickets/?tag={rare_tag}", headers=api),
        Page(api_client, f"/api/v1/tickets/?search={selective}", SEARCH, headers=api),
        Page(api_client, f"/api/v1/tickets/?search={common}", SEARCH, headers=api),
        Page(api_client, "/api/v1/queues/", headers=api),
        Page(pm_client, "/projects/"),
        Page(pm_client, f"/projects/{project.key}/"),
        Page(pm_client, "/status/"),
        Page(pm_client, f"/status/{project.slug}/"),
    ]


def rare_tag_on_old_tickets(name: str = "bench-rare", tickets: int = 30) -> str:
    """A tag on a few of the oldest open tickets (made once per database): the newest-first
    list filtered by it must not read its way through every ticket to find them."""
    from helpdesk.models import Tag, Ticket

    tag, created = Tag.objects.get_or_create(name=name)
    if created:
        oldest_open = Ticket.objects.open().order_by("id")[:tickets]
        tag.tickets.add(*oldest_open)
    return name


def run_ticket_create(meta, args) -> Result:
    from helpdesk.models import Queue
    from helpdesk.services import ticket_create

    rng = random.Random(args.seed + int(time.time()))
    queues = list(Queue.objects.order_by("pk"))
    contacts = meta["contacts"]

    def call(i):
        queue = queues[i % len(queues)]
        # Mostly callers we know, now and then a new one.
        if rng.random() < 0.9:
            email = f"caller{rng.randrange(contacts):07d}@example.org"
        else:
            email = f"newcaller{rng.randrange(10**9):09d}@example.org"
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
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    counts = [
        ("tickets", Ticket.objects.count()),
        ("open", Ticket.objects.open().count()),
        ("events", TicketEvent.objects.count()),
        ("contacts", Contact.objects.count()),
        ("queues", Queue.objects.count()),
        ("agents", User.objects.filter(groups__name="Agents").count()),
        ("projects", Project.objects.count()),
        ("milestones", Milestone.objects.count()),
    ]
    parts = [f"{count:,} {label}" for label, count in counts]
    return f"PostgreSQL {version} · {size} · " + " · ".join(parts)


def table(results: list[Result]) -> str:
    columns = ["name", "median ms", "p95 ms", "queries", "SQL ms", "top stmt ms", "target"]
    rows = [
        [
            r.name,
            f"{r.median_ms:.1f}",
            f"{r.p95_ms:.1f}",
            r.queries_label,
            f"{r.sql_median_ms:.1f}",
            f"{r.slowest_sql[0] * 1000:.1f}",
            r.target_label,
        ]
        if not isinstance(r, Failed)
        else [r.name, "-", "-", "-", "-", "-", f"NOT MEASURED: {r.error}"]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([first, *rest, cells[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])


def shorten_select(sql: str) -> str:
    """`SELECT <32 columns> FROM …`: the column list of the outer SELECT says little and
    takes a screen; subqueries in it are kept."""
    if not sql.startswith("SELECT "):
        return sql
    depth, quoted, columns = 0, False, 1
    for i, char in enumerate(sql):
        if char == '"' or char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char == ",":
            columns += 1
        elif depth == 0 and sql.startswith(" FROM ", i):
            if "(" in sql[:i]:
                return sql  # a subquery or function in the list: show it all
            return f"SELECT <{columns} columns>{sql[i:]}"
    return sql


def explain_slow(results: list[Result], threshold_ms: float, floor_ms: float) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every SELECT over `floor_ms` of each page over its
    target, and any SELECT with a median over `threshold_ms`; each statement once,
    naming every page it slowed."""
    from django.db import connection

    slow = {}
    for result in results:
        over_target = result.target is not None and not result.target.met(result)
        for rank, (seconds, sql, params) in enumerate(result.statements):
            ms = seconds * 1000
            wanted = (over_target and (rank == 0 or ms >= floor_ms)) or (
                threshold_ms > 0 and ms >= threshold_ms
            )
            if not wanted or not sql.lstrip().upper().startswith("SELECT"):
                continue
            text = connection.ops.compose_sql(sql, params)
            entry = slow.setdefault(text, {"sql": sql, "params": params, "seconds": 0, "names": []})
            entry["seconds"] = max(entry["seconds"], seconds)
            entry["names"].append(result.name + (" (over target)" if over_target else ""))
    for text, entry in sorted(slow.items(), key=lambda item: -item[1]["seconds"]):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + entry["sql"], entry["params"])
            plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall())
        print(f"\nStatement with a median of {entry['seconds'] * 1000:.1f} ms, in:")
        for name in entry["names"]:
            print(f"  {name}")
        print(f"    {shorten_select(text)}")
        print(plan)


# What the cumulative profile lists: our code, and the Django pieces that cost in pages
# (templates' {% for %}, {% url %}, humanize, querysets, DRF serializers).
FOCUS = (
    r"/work/main/(?!\.venv)|^(?!.*site-packages).*/(helpdesk|config|projects|liaison)/"
    r"|defaulttags.py:\d+\((render)\)|humanize|urls/base.py|query.py:\d+\(_fetch_all\)"
    r"|serializers.py:\d+\(to_representation\)|sql/compiler.py:\d+\(execute_sql\)"
)


def profile_pages(pages: list["Page"], patterns: list[str], top: int = 25) -> None:
    """One request of each page whose name matches a pattern (shell-style), under
    cProfile: where the Python time goes (by cumulative and by own time)."""
    import cProfile
    import fnmatch
    import io
    import pstats

    for page in pages:
        name = f"{page.method.upper()} {page.label or page.url}"
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        getattr(page.client, page.method)(page.url, headers=page.headers)
        profiler.disable()
        views = (
            ("cumulative", "cumulative time, project code and Django's usual suspects", FOCUS),
            ("tottime", "own time", None),
        )
        for order, title, focus in views:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(order)
            stats.print_stats(*([focus] if focus else []), top)
            lines = [line for line in out.getvalue().splitlines() if line.strip()]
            print(f"\nProfile of one {name} ({title}, top {top}):")
            print("\n".join(lines))


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


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
    refuse_app_database(url, args.db_name)
    if args.skip_seed:
        if not database_exists(url, args.db_name):
            sys.exit(f"No database {args.db_name!r} to reuse: run once with --keep first.")
    else:
        create_database(url, args.db_name)
    bench_url = with_database(url, args.db_name)
    os.environ["DATABASE_URL"] = bench_url
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

        if args.skip_seed:
            meta = load_meta()
            if meta is None:
                sys.exit(f"{args.db_name!r} was not seeded by this bench (no {META_TABLE}).")
            print(f"Database {args.db_name!r} reused (migrate {migrate_seconds:.1f}s)")
            prefix = f"Seeded at {meta['seeded_at']}: seeding took"
        else:
            from bench.seed import Seeder

            seeder = Seeder(
                url=bench_url,
                tickets=args.tickets,
                seed=args.seed,
                search_fill=args.search_fill,
                jobs=args.jobs,
            )
            meta = seeder.run()
            save_meta(meta)
            print(f"Database {args.db_name!r}: migrate {migrate_seconds:.1f}s")
            prefix = "Seeding took"
        seeded = sum(seconds for _, seconds in meta["timings"])
        steps = ", ".join(f"{label} {seconds:.1f}s" for label, seconds in meta["timings"])
        print(f"{prefix} {seeded:.1f}s ({steps})")
        print(f"Checked: {meta['search_check']}")
        print(header_line())
        print(
            f"{args.repeat} timed requests per page after {args.warmup} warm-ups · "
            f"{os.cpu_count()} CPUs, load average {load_average()}\n"
        )

        pages = plan_pages(meta)
        results = [measure_page(page, repeat=args.repeat, warmup=args.warmup) for page in pages]
        if args.creates:
            results.append(run_ticket_create(meta, args))
        print(table(results))
        print(
            "SQL ms: median time per request spent in SQL; top stmt ms: median time of the "
            "statement that costs most; target: issue 3's, for 1,000,000 tickets."
        )
        print(f"Load average after the pages: {load_average()}")
        explain_slow(results, args.explain_over, args.explain_floor)
        if args.profile:
            profile_pages(pages, args.profile)

        if args.throughput_seconds > 0:
            from django.db import connections
            from rest_framework.authtoken.models import Token

            from bench import throughput

            token = Token.objects.get(user__username="bench_agent").key
            connections.close_all()
            outcomes = throughput.measure(
                database_url=bench_url,
                token=token,
                paths=[API_LIST, *(args.throughput_path or ["/api/v1/queues/", "/healthz"])],
                seconds=args.throughput_seconds,
                connections=args.throughput_connections,
                workers=args.throughput_workers,
                env={},  # this process's environment: the bench settings and database
                client=args.throughput_client,
            )
            print()
            for outcome in outcomes:
                if outcome.path == API_LIST:
                    met = outcome.rate >= API_LIST_RATE and not outcome.errors
                    verdict = f" · target ≥ {API_LIST_RATE} req/s {'ok' if met else 'MISSED'}"
                else:
                    verdict = " · for reference"
                print(outcome.line() + verdict)
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
