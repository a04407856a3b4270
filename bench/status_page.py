"""Status page benchmark: requests per second of a cached public status page under gunicorn.

    .venv/bin/python bench/status_page.py                   # DATABASE_URL / REDIS_URL from the env
    .venv/bin/python -m config.embedded -- .venv/bin/python bench/status_page.py
    .venv/bin/python bench/status_page.py --seconds 20 --connections 16 --also-feeds

Never part of the test suite. It works in a database of its own
(`bridgedesk_bench_status` by default) on the server DATABASE_URL points at (the embedded
PostgreSQL when unset), made afresh and dropped at the end unless --keep, so the app's
data is never touched; its cache keys carry a prefix of their own, so the shared Redis
(REDIS_URL; without it the file cache under var/) never serves this run another run's
pages.

It seeds one public project the way a real one looks (milestones with moves and reasons,
a go-live and its help desk go-live, status updates, a public known issue in several
queues), starts gunicorn with the project's own config/gunicorn.py (sync workers) on a
free loopback port, warms every worker, and then keeps --connections anonymous requests
in flight for --seconds, with `wrk` when it is installed (Debian package wrk: C, so the
client takes little CPU from the server) or else Python threads, each sending one GET at
a time (reconnecting when the server closes, as gunicorn's sync workers do).
It prints requests per second, median, p95 and p99 latency, errors, the CPU each request
costs gunicorn and PostgreSQL, and the issue's target (≥ 500 req/s on 2 cores).

The client runs on the same machine and takes CPU from the server: the CPU per request
line says what two idle cores could serve without it. The machine is shared: the load
average is printed before and after.
"""

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.run import (  # noqa: E402 - after the path is set
    ENV_DEFAULTS,
    create_database,
    drop_database,
    load_average,
    refuse_app_database,
    server_url,
    with_database,
)

TARGET_RATE = 500
SLUG = "vpn-replacement"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of the timed run")
    parser.add_argument("--warmup", type=float, default=3, help="untimed seconds first")
    parser.add_argument("--connections", type=int, default=8, help="requests in flight")
    parser.add_argument(
        "--workers", type=int, default=None, help="WEB_CONCURRENCY (default: config/gunicorn.py's)"
    )
    parser.add_argument("--db-name", default="bridgedesk_bench_status")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--also-feeds", action="store_true", help="also drive feed.atom and milestones.ics"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "threads"],
        default="auto",
        help="load generator: wrk when installed (auto), else Python threads",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PATH",
        help="also drive PATH for reference, e.g. /healthz (Django and one SELECT 1)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.connections < 1 or args.warmup < 0:
        parser.error("--seconds > 0, --connections ≥ 1, --warmup ≥ 0")
    return args


# --- Seeding --------------------------------------------------------------------------


def seed() -> None:
    """One public project with a realistic status page, written with the ORM (no outbox
    events, so no task reaches any broker)."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from config.roles import PROJECT_MANAGERS
    from helpdesk.models import Queue
    from liaison.models import ProjectDesk
    from liaison.publish import bulletins_refresh
    from projects.models import Milestone, MilestoneSlip, Project, StatusUpdate

    today = timezone.localdate()
    pm = User.objects.create_user("bench_pm", first_name="Pat", last_name="Manager")
    pm.groups.add(Group.objects.get_or_create(name=PROJECT_MANAGERS)[0])
    project = Project.objects.create(
        key="VPN",
        name="VPN replacement",
        slug=SLUG,
        owner=pm,
        status=Project.Status.ACTIVE,
        health=Project.Health.AT_RISK,
        visibility=Project.Visibility.PUBLIC,
        target_date=today + timedelta(days=120),
        description="Replace the old VPN concentrators with the new client. Everyone "
        "with a company laptop gets it automatically.",
    )
    for n in range(12):
        baseline = today + timedelta(days=-60 + 15 * n)
        moved = n % 3 == 1
        milestone = Milestone.objects.create(
            project=project,
            name=f"Wave {n + 1}: {['pilot', 'finance', 'sales', 'field staff'][n % 4]} rolled out",
            kind=Milestone.Kind.GO_LIVE if n == 9 else Milestone.Kind.REGULAR,
            baseline_date=baseline,
            target_date=baseline + timedelta(days=14 if moved else 0),
            completed_at=timezone.now() - timedelta(days=50 - 15 * n) if n < 4 else None,
        )
        if moved:
            for step, reason in enumerate(
                ["The certificate vendor delivered late.", "Paused over month-end."]
            ):
                MilestoneSlip.objects.create(
                    milestone=milestone,
                    old_date=baseline + timedelta(days=7 * step),
                    new_date=baseline + timedelta(days=7 * (step + 1)),
                    reason=reason,
                    author=pm,
                )
    for n in range(8):
        StatusUpdate.objects.create(
            project=project,
            health=["on_track", "at_risk"][n % 2],
            summary=f"Week {n + 1}: **{n * 40} laptops** moved.\n\n- Next wave on plan\n"
            "- Help desk briefed",
            author=pm,
        )
    for n in range(3):
        Queue.objects.create(name=f"Queue {n}", slug=f"queue-{n}", key=f"Q{n}").projects.add(
            project
        )
    ProjectDesk.objects.create(
        project=project,
        tell_callers="Some laptops drop the VPN after sleep with the old client.",
        workaround="Quit and reopen the client, or use the web portal meanwhile.",
        workaround_public=True,
    )
    bulletins_refresh(project)


# --- The load ---------------------------------------------------------------------------


def drive(port: int, path: str, *, seconds: float, connections: int) -> dict:
    """`connections` threads, each sending one GET at a time until `seconds` pass."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    counts = {"errors": 0, "bytes": 0}
    lock = threading.Lock()

    def client():
        conn, mine, errors, size = None, [], 0, 0
        while time.monotonic() < stop:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                start = time.perf_counter()
                conn.request("GET", path, headers={"Accept": "text/html"})
                response = conn.getresponse()
                body = response.read()
                mine.append(time.perf_counter() - start)
                size = len(body)
                if response.status != 200:
                    errors += 1
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors += 1
                conn = None
        with lock:
            latencies.extend(mine)
            counts["errors"] += errors
            counts["bytes"] = max(counts["bytes"], size)

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies) or [0.0]

    def pct(p):
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    return {
        "requests": len(latencies),
        "elapsed": elapsed,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "p50": statistics.median(ordered) * 1000,
        "p95": pct(95),
        "p99": pct(99),
        "errors": counts["errors"],
        "bytes": counts["bytes"],
    }


WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %f %f %f\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def drive_wrk(port: int, path: str, *, seconds: float, connections: int) -> dict:
    """The same load from wrk (C, two threads): the client takes far less of the
    machine's CPU from the server than Python threads do."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s"]
        command += ["-s", script.name, f"http://127.0.0.1:{port}{path}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    requests, socket_errors, status_errors, duration_us, p50, p95, p99 = line.split()[1:]
    elapsed = int(duration_us) / 1e6
    return {
        "requests": int(requests),
        "elapsed": elapsed,
        "rate": int(requests) / elapsed if elapsed else 0.0,
        "p50": float(p50) / 1000,
        "p95": float(p95) / 1000,
        "p99": float(p99) / 1000,
        "errors": int(socket_errors) + int(status_errors),
        "bytes": 0,
    }


def measure(database_url: str, paths: list[str], args) -> list[tuple[str, dict, str]]:
    from bench import throughput

    workers = args.workers or int(
        os.environ.get("WEB_CONCURRENCY") or min(2 * (os.cpu_count() or 1) + 1, 8)
    )
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "threads"
    load = drive_wrk if client == "wrk" else drive
    results = []
    with throughput.Gunicorn(database_url=database_url, workers=workers, env={}) as server:
        for path in paths:
            server.wait_ready(path, {})
            # Every worker: its database connection, templates, and the page in the cache.
            if args.warmup:
                load(server.port, path, seconds=args.warmup, connections=args.connections)
            try:
                app_pids, db_pids = throughput.server_pids(server.process.pid, database_url)
                app_before = throughput.cpu_seconds(app_pids)
                db_before = throughput.cpu_seconds(db_pids)
            except (ImportError, OSError):
                app_pids = None
            outcome = load(server.port, path, seconds=args.seconds, connections=args.connections)
            cpu = ""
            if app_pids and outcome["requests"]:
                app_ms = (
                    throughput.spent(app_before, throughput.cpu_seconds(app_pids))
                    * 1000
                    / outcome["requests"]
                )
                db_ms = (
                    throughput.spent(db_before, throughput.cpu_seconds(db_pids))
                    * 1000
                    / outcome["requests"]
                )
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
                cpu = (
                    f"CPU per request: gunicorn {app_ms:.2f} ms + PostgreSQL {db_ms:.2f} ms, "
                    f"so at most {cores * 1000 / (app_ms + db_ms):.0f} req/s on {cores} idle cores"
                )
            results.append((path, outcome, f"{workers} sync workers, client {client} · {cpu}"))
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # A cache corner of this run's own: the bench database starts its ids at 1 every time.
    os.environ["CACHE_KEY_PREFIX"] = f"bench-status-{uuid.uuid4().hex[:10]}"
    os.environ.setdefault("BROKER_KEY_PREFIX", f"{os.environ['CACHE_KEY_PREFIX']}:")
    scratch = []
    if not os.environ.get("REDIS_URL") and not os.environ.get("CACHE_DIR"):
        # The file cache: in a folder of this run's own, not the app's var/cache.
        os.environ["CACHE_DIR"] = tempfile.mkdtemp(prefix="bridgedesk-bench-cache-")
        scratch.append(os.environ["CACHE_DIR"])
    static_root = None
    if not os.environ.get("STATIC_ROOT"):
        static_root = tempfile.mkdtemp(prefix="bridgedesk-bench-static-")
        os.environ["STATIC_ROOT"] = static_root
    url = server_url()
    refuse_app_database(url, args.db_name)
    create_database(url, args.db_name)
    bench_url = with_database(url, args.db_name)
    os.environ["DATABASE_URL"] = bench_url
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0, interactive=False)
        seed()
        connections.close_all()
        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        paths = [f"/status/{SLUG}/"]
        if args.also_feeds:
            paths += [f"/status/{SLUG}/feed.atom", f"/status/{SLUG}/milestones.ics"]
        paths += args.also
        print(
            f"Status page benchmark · {os.cpu_count()} CPUs · cache {cache} · "
            f"{args.connections} connections · load average before {load_average()}"
        )
        for path, outcome, server in measure(bench_url, paths, args):
            verdict = ""
            if path == paths[0]:
                met = outcome["rate"] >= TARGET_RATE and not outcome["errors"]
                verdict = f" · target ≥ {TARGET_RATE} req/s {'ok' if met else 'MISSED'}"
            print(
                f"GET {path}: {outcome['rate']:.0f} req/s ({outcome['requests']:,} in "
                f"{outcome['elapsed']:.1f} s, {outcome['errors']} errors) · latency ms "
                f"median {outcome['p50']:.1f} p95 {outcome['p95']:.1f} "
                f"p99 {outcome['p99']:.1f}{verdict}\n    {server}"
            )
        print(f"Load average after: {load_average()}")
    finally:
        for folder in [*scratch, static_root]:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        if args.keep:
            print(f"Kept database {args.db_name!r}.")
        else:
            drop_database(url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
