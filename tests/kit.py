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
