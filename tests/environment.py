"""Environment for the test suite, loaded as a plugin (`-p tests.environment`) so it runs
before pytest-django reads the settings.

Tests run with production defaults except what plain-HTTP test servers need. Values
already in the environment (CI's DATABASE_URL, REDIS_URL) win.
"""

import atexit
import os
import shutil
import tempfile
import uuid


def _scratch_dir(purpose: str) -> str:
    path = tempfile.mkdtemp(prefix=f"bridgedesk-{purpose}-")
    atexit.register(shutil.rmtree, path, True)
    return path


os.environ.setdefault("SECRET_KEY", "test-only-" + "x" * 50)
os.environ["DEBUG"] = "false"  # the suite tests production behaviour
os.environ["SECURE_SSL_REDIRECT"] = "false"
os.environ["SESSION_COOKIE_SECURE"] = "false"
os.environ["CSRF_COOKIE_SECURE"] = "false"
os.environ["SECURE_HSTS_SECONDS"] = "0"
# Static files straight from static/, no collectstatic needed before a test run.
os.environ["STATIC_MANIFEST"] = "false"
os.environ.setdefault("STATIC_ROOT", _scratch_dir("static"))

# Each test process (one per xdist worker) gets its own corner of the broker and cache, so
# parallel runs sharing one Redis never take each other's tasks. Assigned, not defaulted:
# xdist workers inherit the controller's environment.
_run = f"{uuid.uuid4().hex[:10]}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
os.environ["BROKER_KEY_PREFIX"] = f"bdtest-{_run}:"
os.environ["CACHE_KEY_PREFIX"] = f"bdtest-{_run}"
os.environ["BROKER_DIR"] = _scratch_dir("broker")
os.environ["CACHE_DIR"] = _scratch_dir("cache")
