"""Environment for the test suite, set before Django reads its settings.

Tests run with production defaults except what plain-HTTP test servers need. Values
already in the environment (CI's DATABASE_URL, REDIS_URL) win.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-" + "x" * 50)
os.environ.setdefault("DEBUG", "false")
os.environ["SECURE_SSL_REDIRECT"] = "false"
os.environ["SESSION_COOKIE_SECURE"] = "false"
os.environ["CSRF_COOKIE_SECURE"] = "false"
os.environ["SECURE_HSTS_SECONDS"] = "0"
