import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_str
from tests.kit import ROOT

STRONG_KEY = "k" * 20 + "-production-grade-random-looking-secret-" + "z" * 20


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("Yes", True)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_env_bool_names_the_variable_when_it_cannot_read_it(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG", False)


def test_env_int_names_the_variable_and_the_limit(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "smtp")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT must be an integer"):
        env_int("EMAIL_PORT", 25)
    monkeypatch.setenv("EMAIL_PORT", "0")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT must be at least 1"):
        env_int("EMAIL_PORT", 25, minimum=1)


def test_env_str_without_a_default_is_required(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        env_str("SECRET_KEY")


def test_env_list_and_choice(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "help.example.org, ,status.example.org")
    assert env_list("ALLOWED_HOSTS", []) == ["help.example.org", "status.example.org"]
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL must be one of"):
        env_choice("LOG_LEVEL", "INFO", {"INFO", "DEBUG"})


def manage(*args, **env):
    """Run manage.py in a fresh process with this environment plus `env`; a value of
    None removes the variable."""
    full_env = {**os.environ, **env}
    full_env = {key: value for key, value in full_env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**extra):
    # Undo the test suite's relaxations: these are the defaults a real deployment gets.
    return {
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "help.example.org",
        "SECURE_SSL_REDIRECT": None,
        "SESSION_COOKIE_SECURE": None,
        "CSRF_COOKIE_SECURE": None,
        "SECURE_HSTS_SECONDS": None,
        "STATIC_MANIFEST": None,
        **extra,
    }


def test_deploy_check_is_clean_with_production_defaults():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_broken_setting_stops_start_up_with_one_clear_line():
    result = manage("check", **production_env(DEBUG="maybe"))
    assert result.returncode != 0
    assert "DEBUG must be a boolean (true/false, 1/0), got 'maybe'" in result.stderr


def test_a_weak_secret_key_is_refused_in_production():
    result = manage("check", **production_env(SECRET_KEY="short"))
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 random characters" in result.stderr


def test_a_database_url_that_is_not_postgres_is_refused():
    result = manage("check", **production_env(DATABASE_URL="sqlite:///db.sqlite3"))
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def test_seed_demo_refuses_to_run_in_production():
    result = manage("seed_demo", **production_env())
    assert result.returncode != 0
    assert "refuses to run with DEBUG off" in result.stderr


COUNT_PREPARED = (
    "from django.db import connection\n"
    "cursor = connection.cursor()\n"
    "for _ in range(6): cursor.execute('SELECT %s::int', [1])\n"
    "cursor.execute('SELECT count(*) FROM pg_prepared_statements')\n"
    "print(cursor.fetchone()[0])\n"
)


@pytest.mark.parametrize(("setting", "prepared"), [(None, True), ("false", False)])
def test_a_query_a_connection_repeats_is_prepared_unless_turned_off(setting, prepared):
    """Planning the triage and API list queries costs PostgreSQL more than running them,
    so by default a connection prepares what it repeats; a pooler that cannot carry
    prepared statements needs the switch."""
    result = manage("shell", "-c", COUNT_PREPARED, DATABASE_PREPARED_STATEMENTS=setting)
    assert result.returncode == 0, result.stderr
    assert (int(result.stdout.split()[-1]) > 0) is prepared
