"""API throughput: a real gunicorn on 127.0.0.1, driven by a bounded concurrent client.

gunicorn runs with the project's own config/gunicorn.py (sync workers), bound to the
loopback address only, in a process group of its own that is always stopped at the end.
The client is `wrk` when installed (C, so the client takes little of the machine's CPU
from the server), else threads with http.client; either keeps `connections` requests in
flight and no more.
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Throughput:
    client: str
    path: str
    seconds: float
    connections: int
    workers: int
    requests: int = 0
    errors: int = 0
    latencies_ms: dict = field(default_factory=dict)  # percentile -> ms
    load: tuple = ()
    app_cpu_ms: float | None = None  # CPU time per request of the gunicorn workers
    db_cpu_ms: float | None = None  # ... and of their PostgreSQL backends

    def cpu_note(self) -> str:
        """What the request costs in CPU, whoever else uses the machine: the rate two idle
        cores could sustain at most (the client's own CPU not counted)."""
        if not self.app_cpu_ms:
            return ""
        total = self.app_cpu_ms + (self.db_cpu_ms or 0)
        cores = os.cpu_count() or 1
        return (
            f" · CPU per request: app {self.app_cpu_ms:.1f} ms + PostgreSQL "
            f"{self.db_cpu_ms or 0:.1f} ms, so at most {cores * 1000 / total:.0f} req/s "
            f"on {cores} idle cores"
        )

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        percentiles = " ".join(f"p{p} {ms:.1f}" for p, ms in self.latencies_ms.items())
        load = ", ".join(f"{x:.2f}" for x in self.load)
        return (
            f"API throughput GET {self.path}: {self.rate:.0f} req/s "
            f"({self.requests:,} in {self.seconds:.1f} s, {self.errors} errors) · "
            f"latency ms {percentiles} · gunicorn {self.workers} sync workers, "
            f"{self.connections} connections, {self.client} · load average after {load}"
            f"{self.cpu_note()}"
        )


def cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU seconds of each process still alive (psutil, a dev dependency)."""
    import psutil

    seconds = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds[pid] = times.user + times.system
    return seconds


def server_pids(master: int, database_url: str) -> tuple[list[int], list[int]]:
    """(gunicorn master and workers, the PostgreSQL backends serving the bench database)."""
    import psutil
    import psycopg

    app = [master, *(p.pid for p in psutil.Process(master).children(recursive=True))]
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return app, [pid for (pid,) in rows]


def spent(before: dict, after: dict) -> float:
    return sum(after[pid] - before[pid] for pid in after if pid in before)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`python -m gunicorn config.wsgi -c config/gunicorn.py` on 127.0.0.1:<free port>."""

    def __init__(self, *, database_url: str, workers: int, env: dict):
        self.port = free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            **env,
            "DATABASE_URL": database_url,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
        }
        self.process = None

    def __enter__(self):
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-c",
            "config/gunicorn.py",
            # After the config file, so it wins: never listen beyond this machine.
            "--bind",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            "/dev/null",
        ]
        self.log = open(os.devnull, "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: we stop master and workers
        )
        return self

    def wait_ready(self, path: str, headers: dict, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{err}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return
                raise SystemExit(f"GET {path} through gunicorn answered {response.status}")
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer on port {self.port} within {timeout} s")

    def __exit__(self, *exc):
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group is the one we started
        if self.process.poll() is None:
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.process.wait()
        # Workers exit with the master; make sure none is left in the group.
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            pass
        else:
            time.sleep(1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.process.stderr.close()
        self.log.close()


def run_wrk(port, path, headers, *, seconds, connections) -> tuple[int, int, dict, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    requests, elapsed, unit = int(total.group(1)), float(total.group(2)), total.group(3)
    elapsed *= {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[unit]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    latencies = {}
    for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        latencies[int(p)] = float(value) * {"us": 1e-3, "ms": 1, "s": 1000}[unit]
    return requests, errors, latencies, elapsed


def run_threads(port, path, headers, *, seconds, connections) -> tuple[int, int, dict, float]:
    """`connections` threads, each a keep-alive client sending one request at a time."""
    stop = time.monotonic() + seconds
    latencies, errors = [], [0]
    lock = threading.Lock()

    def worker():
        conn = None
        mine, failed = [], 0
        while time.monotonic() < stop:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                start = time.perf_counter()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - start)
                if response.status != 200:
                    failed += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                failed += 1
                conn = None
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)
    percentiles = {}
    if ordered:
        for p in (50, 90, 99):
            percentiles[p] = ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000
        percentiles[50] = statistics.median(ordered) * 1000
    return len(latencies), errors[0], percentiles, elapsed


def measure(
    *,
    database_url: str,
    token: str,
    paths: list[str],
    seconds: float,
    connections: int,
    workers: int,
    env: dict,
    client: str = "auto",
) -> list[Throughput]:
    """Drive each of `paths` in turn for `seconds` against one gunicorn."""
    headers = {"Authorization": f"Token {token}"}
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "threads"
    run = run_wrk if client == "wrk" else run_threads
    results = []
    with Gunicorn(database_url=database_url, workers=workers, env=env) as server:
        for path in paths:
            server.wait_ready(path, headers)
            # Warm every worker: its database connection, imports, first-request caches.
            run(server.port, path, headers, seconds=2, connections=connections)
            try:
                app_pids, db_pids = server_pids(server.process.pid, database_url)
                app_before, db_before = cpu_seconds(app_pids), cpu_seconds(db_pids)
            except (ImportError, OSError):  # no psutil, or PostgreSQL on another machine
                app_pids = db_pids = None
            requests, errors, latencies, elapsed = run(
                server.port, path, headers, seconds=seconds, connections=connections
            )
            app_ms = db_ms = None
            if app_pids and requests:
                app_ms = spent(app_before, cpu_seconds(app_pids)) * 1000 / requests
                db_ms = spent(db_before, cpu_seconds(db_pids)) * 1000 / requests
            results.append(
                Throughput(
                    client=client,
                    path=path,
                    seconds=elapsed,
                    connections=connections,
                    workers=workers,
                    requests=requests,
                    errors=errors,
                    latencies_ms=latencies,
                    load=os.getloadavg(),
                    app_cpu_ms=app_ms,
                    db_cpu_ms=db_ms,
                )
            )
    return results
