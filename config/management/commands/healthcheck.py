"""`manage.py healthcheck {web,worker,beat}`: the container health checks.

Exit 0 when the process is healthy; otherwise exit 1 with one line saying why, which
`docker inspect` shows as the health log.

- web: GET /healthz on this container's gunicorn answers 200 (the database answers).
- worker: the Celery worker of this container (celery@<hostname>) answers a ping.
- beat: a worker ran beat's heartbeat task less than 3 × HEARTBEAT_SECONDS ago, which
  proves beat, broker and worker all work.
"""

import json
import logging
import os
import socket
import urllib.error
import urllib.request

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.tasks import HEARTBEAT_CACHE_KEY

# A heartbeat may be one interval late, plus the time a busy worker takes to get to it.
HEARTBEAT_TOLERANCE = 3


class Unhealthy(Exception):
    """The reason a check failed, in words an operator can act on."""


def check_web(timeout: float) -> str:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        # Django answers 400 to a Host it does not serve, so ask as one it does.
        headers={"Host": _served_host()},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unhealthy(f"no answer from http://127.0.0.1:{port}/healthz: {reason}") from None
    if status != 200:
        raise Unhealthy(f"/healthz answered {status}: {_summary(body)}")
    return "/healthz answered 200"


def check_worker(timeout: float) -> str:
    from config.celery import app

    node = f"celery@{socket.gethostname()}"
    with app.connection_for_write() as connection:
        # One quick try: without it kombu retries an unreachable broker for many seconds,
        # longer than the container's health check waits.
        connection.ensure_connection(max_retries=1, interval_start=0)
        replies = app.control.ping(destination=[node], timeout=timeout, connection=connection)
    if not any(node in reply for reply in replies):
        raise Unhealthy(f"{node} did not answer a ping within {timeout:g} s")
    return f"{node} answered a ping"


def check_beat(timeout: float) -> str:
    limit = HEARTBEAT_TOLERANCE * settings.HEARTBEAT_SECONDS
    stamp = cache.get(HEARTBEAT_CACHE_KEY)
    beat_at = parse_datetime(stamp) if isinstance(stamp, str) else None
    if beat_at is None:
        raise Unhealthy(
            "no worker heartbeat recorded yet: is beat sending it and a worker running?"
        )
    age = (timezone.now() - beat_at).total_seconds()
    if age > limit:
        raise Unhealthy(
            f"last worker heartbeat {age:.0f} s ago, over the {limit} s limit: "
            "beat, the broker or the worker has stalled"
        )
    return f"worker heartbeat {age:.0f} s ago"


CHECKS = {"web": check_web, "worker": check_worker, "beat": check_beat}


class Command(BaseCommand):
    help = "Exit 0 when the named process is healthy, else 1 with one line saying why."
    # A health check runs every few seconds: skip the system checks, they prove nothing here.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("process", choices=sorted(CHECKS))
        parser.add_argument(
            "--timeout", type=float, default=3.0, help="seconds to wait for an answer"
        )

    def handle(self, *args, process: str, timeout: float, **options):
        # The one line below is the whole answer; library chatter (kombu warns that
        # filesystem:// names no host) would bury it in the health log.
        logging.disable(logging.WARNING)
        try:
            detail = CHECKS[process](timeout)
        except Unhealthy as exc:
            raise CommandError(f"{process} unhealthy: {_one_line(str(exc))}") from None
        except Exception as exc:  # a broker or cache that is down raises its own kind
            raise CommandError(
                f"{process} unhealthy: {exc.__class__.__name__}: {_one_line(str(exc))}"
            ) from None
        self.stdout.write(f"{process} healthy: {detail}")


def _served_host() -> str:
    for entry in settings.ALLOWED_HOSTS:
        if entry == "*":
            break
        # ".example.org" serves example.org and its subdomains.
        host = entry.lstrip(".")
        if host:
            return host
    return "localhost"


def _summary(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body[:200].decode(errors="replace"))
    if isinstance(data, dict):
        return ", ".join(f"{key}={value}" for key, value in data.items())
    return _one_line(str(data))


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no detail)"
