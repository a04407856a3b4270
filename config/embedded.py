"""Zero-setup services: an embedded PostgreSQL and a broker on the file system.

Used only when `DATABASE_URL` (or `REDIS_URL`/`CELERY_BROKER_URL`) is unset, so a fresh
machine with nothing but Python can run and test Bridgedesk. Both live under `var/` and
are shared by every process of this checkout (web, worker, beat, tests).

`python -m config.embedded -- <command>` starts the embedded PostgreSQL once, exports
`DATABASE_URL` for the command and keeps the server up until the command ends, so the
many short processes of a test run do not each start and stop it.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BRIDGEDESK_VAR_DIR") or BASE_DIR / "var")
DATABASE_NAME = "bridgedesk"


def postgres_url() -> str:
    """Start the embedded PostgreSQL (or join the running one) and return its URL.

    The server stops when the last process of this checkout that asked for it exits.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set and the embedded PostgreSQL (pgserver) is not "
            "installed: set DATABASE_URL or install the 'embedded' extra"
        ) from None
    pgdata = VAR_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _ensure_database(server.get_uri("postgres"))
    socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def broker_folder() -> Path:
    """The folder the file-system broker shares between web, worker and beat."""
    folder = Path(os.environ.get("BROKER_DIR") or VAR_DIR / "broker")
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def filesystem_transport_options() -> dict:
    folder = broker_folder()
    return {
        # Producers write where consumers read: one folder for both directions.
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m config.embedded -- <command> [args...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = postgres_url()
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
