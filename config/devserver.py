"""`make run`: one command that brings up the whole application on a laptop.

Starts (or joins) the embedded PostgreSQL when DATABASE_URL is unset, migrates, loads the
demo data once, then runs the web server, a Celery worker and Celery beat side by side.
Ctrl-C stops every process it started. Problems a user can fix are one line on stderr.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
WORKER_QUEUES = "default,status,email"


def fail(message: str) -> int:
    print(f"bridgedesk: {message}", file=sys.stderr)
    return 1


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    raw_port = os.environ.get("PORT", "8000")
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        return fail(f"PORT must be a number between 1 and 65535, got {raw_port!r}")
    port = int(raw_port)
    if not port_is_free(port):
        return fail(f"port {port} on {HOST} is already in use; stop that program or set PORT")

    from django.core.exceptions import ImproperlyConfigured

    try:
        if not os.environ.get("DATABASE_URL"):
            from config import embedded

            # This process holds the embedded server for as long as the app runs.
            os.environ["DATABASE_URL"] = embedded.postgres_url()
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        return fail(f"configuration error: {exc}")
    except Exception as exc:
        return fail(f"could not start: {exc.__class__.__name__}: {exc}")

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc
        return fail(f"cannot reach the database at DATABASE_URL: {first_line}")
    call_command("migrate", interactive=False, verbosity=0)
    if not get_user_model().objects.exists() and settings.DEBUG:
        call_command("seed_demo")
    connection.close()

    # A fresh checkout with DATABASE_URL and REDIS_URL set has no var/ yet; beat needs it.
    Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    commands = {
        "web": [python, "manage.py", "runserver", f"{HOST}:{port}"],
        "worker": [*celery, *f"worker -Q {WORKER_QUEUES} --loglevel INFO --concurrency 2".split()],
        "beat": [
            *celery,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    }
    children = {name: subprocess.Popen(argv) for name, argv in commands.items()}
    print(
        f"\n  Bridgedesk is running at http://{HOST}:{port}/\n"
        "  Demo logins (password 'demo'): admin, agent, pm, stakeholder\n"
        "  Press Ctrl-C to stop the web server, worker and beat.\n",
        flush=True,
    )
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                fail(f"{name} exited with code {child.returncode}; stopping the rest")
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
