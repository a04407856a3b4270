"""gunicorn settings, each from the environment: `gunicorn -c config/gunicorn.py config.wsgi`.

Read by gunicorn before the Django app loads, so this file stands alone: no imports from
the project, and a bad value stops the server with one line naming the variable.

PORT (8000), WEB_CONCURRENCY (2 × cores + 1, at most 8), GUNICORN_TIMEOUT (30 s),
GUNICORN_GRACEFUL_TIMEOUT (30 s), GUNICORN_KEEPALIVE (5 s), FORWARDED_ALLOW_IPS
(127.0.0.1,::1). Anything else: GUNICORN_CMD_ARGS, which gunicorn reads itself.
"""

import os

# Each worker holds a whole Django process in memory; past a handful, a container runs
# out of memory long before it runs out of CPU.
_MAX_DEFAULT_WORKERS = 8


def _int(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _cores() -> int:
    # The CPUs this process may run on (a container's cpuset), not all the host has.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


bind = f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, _MAX_DEFAULT_WORKERS))

# Access log to stdout, errors to stderr: the container runtime collects both.
accesslog = "-"
errorlog = "-"

timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a deploy, `docker compose stop`) requests in flight get this long to finish;
# keep the container's stop grace period longer than this.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Idle keep-alive connections from a proxy in front are reused for this many seconds.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Who may set X-Forwarded-For/-Proto: the TLS proxy's address, or "*" when nothing but
# the proxy can reach this port (as on a compose network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"

# gunicorn 25.1+ opens a control socket under $HOME for `gunicornc`. Nothing here uses it,
# the image's user may not write its home, and servers side by side (tests) would share it.
control_socket_disable = True

# Worker heartbeat files on a container's overlay file system can stall a worker for
# seconds; memory-backed /dev/shm does not.
_SHARED_MEMORY = "/dev/shm"  # noqa: S108 - per-worker files gunicorn makes and locks itself
if os.path.isdir(_SHARED_MEMORY):
    worker_tmp_dir = _SHARED_MEMORY
