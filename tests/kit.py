"""Helpers for tests that run real processes (worker, beat, gunicorn, make run)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A DATABASE_URL for the database this test process is using (the test database),
    so child processes see what the test committed."""
    s = connection.settings_dict
    host = quote(s["HOST"] or "", safe="")
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{s['NAME']}"


def child_env(**overrides) -> dict:
    """This process's environment, pointed at the test database, plus `overrides`."""
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll `condition()` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Process:
    """A child process whose output goes to a file, stopped for sure on exit."""

    def __init__(self, argv: list[str], *, env: dict, log: Path, new_session: bool = False):
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def celery_worker(tmp_path: Path, **env) -> Process:
    """A real Celery worker on every queue, against the test database and broker
    (`env` may point it elsewhere, e.g. DATABASE_URL)."""
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"]
    argv += ["-Q", "default,status,email", "--loglevel", "INFO", "-n", f"test-{os.getpid()}@%h"]
    return Process(argv, env=child_env(**env), log=tmp_path / "worker.log")


# --- Private services for fault tests (DESIGN.md "Testing faults") ---------------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence, that the test
    may stop, kill and start again on the same port: the machine's Redis is never touched."""

    def __init__(self, tmp_path: Path):
        import shutil

        from tests.conftest import require_service

        require_service(shutil.which("redis-server") is not None, "redis-server")
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None
        self.starts = 0

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=5)

    def _answers(self) -> bool:
        import redis

        try:
            return self.client().ping()
        except redis.ConnectionError:
            return False

    def start(self) -> "PrivateRedis":
        self.starts += 1
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.tmp_path)]
        log = self.tmp_path / f"redis-{self.starts}.log"
        self.process = Process(argv, env=dict(os.environ), log=log)
        wait_for(self._answers, timeout=15, interval=0.05, what=f"redis-server (log: {log})")
        return self

    def stop(self) -> None:
        """Shut it down (SIGTERM; nothing is saved, so queued messages are gone too)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def queued(self, queue: str) -> int:
        """Messages waiting in `queue` (the broker key prefix of this test run applied)."""
        prefix = os.environ.get("BROKER_KEY_PREFIX", "")
        return self.client().llen(prefix + queue)

    def unacked(self) -> int:
        """Messages a worker took and has not acknowledged yet."""
        prefix = os.environ.get("BROKER_KEY_PREFIX", "")
        return self.client().hlen(prefix + "unacked")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def celery_process(
    tmp_path: Path, *args: str, log: str, new_session: bool = False, **env
) -> Process:
    """`python -m celery -A config <args>` against the test database, with `env`."""
    argv = [sys.executable, "-m", "celery", "-A", "config", *args]
    return Process(argv, env=child_env(**env), log=tmp_path / log, new_session=new_session)


def celery_pool_worker(
    tmp_path: Path, *, name: str, concurrency: int = 1, new_session: bool = False, **env
) -> Process:
    """A real prefork worker (a main process and `concurrency` pool processes) on every
    queue, as production runs it; `new_session` puts it in a process group of its own, so
    a test can kill main and pool processes at once."""
    return celery_process(
        tmp_path,
        *("worker", "--pool", "prefork", "--concurrency", str(concurrency)),
        *("-Q", "default,status,email", "--loglevel", "INFO", "--without-mingle"),
        *("--without-gossip", "-n", f"{name}-{os.getpid()}@%h"),
        log=f"{name}.log",
        new_session=new_session,
        **env,
    )


def celery_beat(tmp_path: Path, **env) -> Process:
    """A real beat process whose schedule file and pid file live in `tmp_path`."""
    return celery_process(
        tmp_path,
        *("beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")),
        *("--pidfile", str(tmp_path / "beat.pid")),
        log="beat.log",
        **env,
    )


def worker_ready(worker: Process) -> bool:
    """The worker has connected to its broker and consumes (Celery logs "… ready.")."""
    return " ready." in worker.output()
