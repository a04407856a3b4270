"""Web and worker processes keep working across a PostgreSQL restart.

The web process keeps its connection between requests (CONN_MAX_AGE) and health-checks it
before reuse (CONN_HEALTH_CHECKS), so a restart costs one reconnect, not failed requests.
Celery's Django fix-up closes the worker's connections around every task.

The test owns the server it restarts: a private embedded PostgreSQL in a temporary
folder, never the machine's shared one.
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from urllib.parse import quote

import psycopg
import pytest

from helpdesk.tasks import send_ticket_acknowledgement
from tests.kit import ROOT, Process, celery_worker, child_env, free_port, wait_for

CREATE_TICKET = (
    "from helpdesk.models import Queue; from helpdesk.services import ticket_create; "
    "q, _ = Queue.objects.get_or_create(slug='sd', defaults={'name': 'SD', 'key': 'SD'}); "
    "print(ticket_create(queue=q, subject='{subject}', requester_email='c@example.org', "
    "acknowledge=False).pk)"
)


@pytest.fixture
def private_postgres(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver._commands import pg_ctl

    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    socket_dir = server.get_uri().split("host=", 1)[1]

    def restart():
        try:
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        except subprocess.CalledProcessError as exc:
            log = (server.pgdata / "log").read_text(errors="replace")[-2000:]
            raise AssertionError(
                f"pg_ctl restart failed: {exc.stdout} {exc.stderr}\n{log}"
            ) from None

    yield f"postgresql://postgres@{quote(socket_dir, safe='')}/postgres", restart
    server.cleanup()


def manage(database_url, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**child_env(), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def acknowledged(database_url, ticket_id):
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT acknowledged_at FROM helpdesk_ticket WHERE id = %s", [ticket_id]
        ).fetchone()
    return row and row[0]


@pytest.mark.django_db
def test_worker_survives_a_postgresql_restart(tmp_path, private_postgres):
    database_url, restart = private_postgres
    manage(database_url, "migrate", "--verbosity", "0")
    before = int(manage(database_url, "shell", "-c", CREATE_TICKET.replace("{subject}", "Before")))
    after = int(manage(database_url, "shell", "-c", CREATE_TICKET.replace("{subject}", "After")))

    with celery_worker(
        tmp_path,
        DATABASE_URL=database_url,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ) as worker:
        send_ticket_acknowledgement.delay(before)
        wait_for(lambda: acknowledged(database_url, before), timeout=60, what=str(worker.log))

        restart()

        send_ticket_acknowledgement.delay(after)
        wait_for(lambda: acknowledged(database_url, after), timeout=60, what=str(worker.log))
        assert "Traceback" not in worker.output()


def healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except (urllib.error.URLError, ConnectionError):
        return None, None


@pytest.mark.django_db
def test_web_process_reconnects_after_a_postgresql_restart(tmp_path, private_postgres):
    database_url, restart = private_postgres
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1"]
    argv += ["--bind", f"127.0.0.1:{port}"]
    env = child_env(DATABASE_URL=database_url, DATABASE_CONN_MAX_AGE=600, ALLOWED_HOSTS="127.0.0.1")
    with Process(argv, env=env, log=tmp_path / "web.log"):
        wait_for(lambda: healthz(port)[0] == 200, timeout=60, what="gunicorn")
        restart()
        # The very first request after the restart must already succeed.
        status, body = healthz(port)
        assert (status, body["database"]) == (200, "ok")
