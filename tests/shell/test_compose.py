"""docker-compose.yml and the Dockerfile, tried without a Docker engine.

No engine runs on developer machines or in CI, so the compose file is read as data and its
application services (migrate, web, worker, beat) run here as local processes: the same
argv and the environment compose gives them, with local stand-ins for what surrounds the
containers. The test database stands in for `db`; this test process's broker and cache
(Redis with its own key prefix, or the file-system broker without REDIS_URL) for `redis`;
a temporary folder for each named volume; a free port for 8000; this virtualenv's python,
celery and gunicorn for the image's. Static files come from the Dockerfile's own
collectstatic step, so the web server runs with the image's hashed, compressed files.
"""

import contextlib
import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from fnmatch import fnmatch
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from config.celery import app as celery_app
from config.tasks import HEARTBEAT_CACHE_KEY
from tests import kit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
APP_SERVICES = ("migrate", "web", "worker", "beat")
CONTAINER_APP_DIR = "/app"  # the Dockerfile's WORKDIR
WAIT = 60  # seconds: the bound on every wait in this file

# tests/environment.py relaxes these for in-process tests. The containers do not have
# them, so the processes here get compose's values or the production defaults instead.
TEST_RELAXATIONS = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "STATIC_MANIFEST",
    "STATIC_ROOT",
)


# --- Reading the files ---------------------------------------------------------------


class MissingVariable(Exception):
    """Compose refuses to start: a `${VAR:?message}` variable is not set."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)


def interpolate(text: str, shell: dict[str, str]) -> str:
    """What compose makes of `text` given the shell it runs in: `$VAR`, `${VAR}`,
    `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$`."""

    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        value, op = shell.get(name), match["op"]
        if op is None:
            return value or ""
        missing = value is None or (op.startswith(":") and value == "")
        if not missing:
            return value
        if op.endswith("-"):
            return match["arg"]
        raise MissingVariable(f"{name}: {match['arg']}")

    result = _VARIABLE.sub(replace, text)
    assert "${" not in result, f"interpolation this test does not know in {text!r}"
    return result


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compose_environment(service: str, shell: dict[str, str]) -> dict[str, str]:
    raw = SERVICES[service].get("environment", {})
    if isinstance(raw, list):
        raw = {name: value if sep else None for name, sep, value in (i.partition("=") for i in raw)}
    env = {}
    for name, value in raw.items():
        if value is None:  # a bare name passes the shell's value through, if it has one
            if name in shell:
                env[name] = shell[name]
        else:
            env[name] = interpolate(_text(value), shell)
    return env


def compose_argv(argv, shell: dict[str, str]) -> list[str]:
    if isinstance(argv, str):
        argv = shlex.split(argv)
    return [interpolate(_text(arg), shell) for arg in argv]


def healthcheck_test(service: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    # Exec form: the check runs without a shell, here as in the container.
    assert isinstance(test, list), f"{service}: healthcheck test must be a list"
    assert test[0] == "CMD", f"{service}: healthcheck test must be CMD form, not {test[0]}"
    return test[1:]


def named_volumes(service: str) -> dict[str, str]:
    """{container path: volume name} for the named volumes the service mounts."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        assert not source.startswith((".", "/")), f"{service}: bind mount {volume!r}"
        mounts[target] = source
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_run_step(word: str) -> tuple[dict[str, str], list[str]]:
    """The RUN step mentioning `word`, as (VAR=value prefixes, argv)."""
    steps = [
        args for keyword, args in dockerfile_instructions() if keyword == "RUN" and word in args
    ]
    assert len(steps) == 1, f"expected one RUN step with {word!r} in the Dockerfile"
    tokens = shlex.split(steps[0])
    env = {}
    while tokens and re.fullmatch(r"[A-Za-z_]\w*=.*", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        env[name] = value
    assert not {"&&", "||", ";", "|"} & set(tokens), "run the step as one plain command"
    return env, tokens


def dockerfile_exec_form(keyword: str) -> list[str]:
    values = [args for kw, args in dockerfile_instructions() if kw == keyword]
    assert values, f"no {keyword} in the Dockerfile"
    return json.loads(values[-1])  # exec form: signals reach the server itself


# --- Local stand-ins for the containers ------------------------------------------------


def local_program(program: str) -> list[str]:
    """This virtualenv's stand-in for a program on the image's PATH."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    assert gunicorn.exists(), f"gunicorn is not installed beside {sys.executable}"
    stand_ins = {
        "python": [sys.executable],
        "celery": [sys.executable, "-m", "celery"],
        "gunicorn": [str(gunicorn)],
    }
    assert program in stand_ins, f"no local stand-in for the image's {program!r}"
    return stand_ins[program]


class Process:
    """A child process in its own process group, its output in a file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log: Path):
        self.name, self.argv, self.log = name, argv, log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own group, so the worker's pool and gunicorn's workers stop with it.
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group has exited
            os.killpg(self.popen.pid, signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout} s\n{self.tail()}"
            ) from None


def stop_all(processes: list[Process], grace: float = 20) -> None:
    """SIGTERM to all at once (warm shutdowns overlap), SIGKILL whatever outlives `grace`."""
    for process in processes:
        # Like `docker stop`: the main process alone, which stops its own children.
        if process.running():
            process.popen.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(max(0.1, deadline - time.monotonic()))
        # Pool children may outlive their parent: end the rest of the group too.
        process.signal_group(signal.SIGKILL)
        process.popen.wait(5)


class LocalCompose:
    """Compose's application services, run here with local stand-ins."""

    def __init__(self, folder: Path, database_url: str):
        self.folder = folder
        self.database_url = database_url
        self.port = kit.free_port()
        self.static_root = folder / "staticfiles"
        self.processes: dict[str, Process] = {}

    # What an operator exports before `docker compose up`: the required secrets only, so
    # every other setting takes the default written in the compose file.
    @staticmethod
    def operator_shell() -> dict[str, str]:
        return {"SECRET_KEY": os.environ["SECRET_KEY"], "POSTGRES_PASSWORD": "unused-here"}

    def environment(self, service: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in TEST_RELAXATIONS}
        env.update(compose_environment(service, self.operator_shell()))
        env["DATABASE_URL"] = self.database_url
        # The test process's broker and cache; BROKER_KEY_PREFIX, CACHE_KEY_PREFIX,
        # BROKER_DIR and CACHE_DIR come along from os.environ and keep it private.
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            env.pop("REDIS_URL", None)
        if "PORT" in env:
            env["PORT"] = str(self.port)
        env["STATIC_ROOT"] = str(self.static_root)
        env["HEARTBEAT_SECONDS"] = "1"
        env["WEB_CONCURRENCY"] = "2"  # a light server: the test machine runs much else
        return env

    def argv(self, service: str, argv=None) -> list[str]:
        """The service's command (or `argv`), with volume paths moved to local folders."""
        program, *args = compose_argv(argv or SERVICES[service]["command"], self.operator_shell())
        mounts = named_volumes(service)

        def local(arg: str) -> str:
            for target, volume in mounts.items():
                if arg == target or arg.startswith(target + "/"):
                    folder = self.folder / "volumes" / volume
                    folder.mkdir(parents=True, exist_ok=True)
                    return str(folder) + arg[len(target) :]
            return arg

        return local_program(program) + [local(arg) for arg in args]

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        process = Process(name, argv, env=env, log=self.folder / f"{name}.log")
        self.processes[name] = process
        return process

    def start_service(self, service: str) -> Process:
        return self.start(service, self.argv(service), self.environment(service))

    def run(self, name: str, argv: list[str], env: dict[str, str], timeout: float = WAIT):
        """Run a one-shot command to its end; (exit code, its output)."""
        process = self.start(name, argv, env)
        code = process.wait(timeout)
        return code, process.log.read_text(errors="replace")

    def healthcheck(self, service: str) -> tuple[int, str]:
        argv = self.argv(service, healthcheck_test(service))
        return self.run(f"healthcheck-{service}", argv, self.environment(service), timeout=15)

    def collectstatic(self) -> Process:
        """The Dockerfile's collectstatic step, into a temporary STATIC_ROOT."""
        step_env, argv = dockerfile_run_step("collectstatic")
        env = {name: value for name, value in os.environ.items() if name not in TEST_RELAXATIONS}
        env.update(step_env)
        env["STATIC_ROOT"] = str(self.static_root)
        return self.start("collectstatic", local_program(argv[0]) + argv[1:], env)

    def request(self, method: str, path: str, *, body=None, headers=None):
        """(status, headers, text) from the web service; OSError while it is down."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read().decode(errors="replace")
        finally:
            conn.close()

    def healthz(self) -> dict | None:
        try:
            status, _, body = self.request("GET", "/healthz")
        except OSError:
            return None
        return json.loads(body) if status == 200 else None

    def wait_until(self, what: str, check, *, watch: tuple[str, ...]) -> None:
        """Poll `check()` until it is true, failing early if a watched service exits and
        at the latest after WAIT seconds, with every process's log in the message."""
        deadline = time.monotonic() + WAIT
        while not check():
            for name in watch:
                if not self.processes[name].running():
                    code = self.processes[name].popen.returncode
                    raise AssertionError(f"{name} exited ({code}) before {what}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT} s\n{self.logs()}")
            time.sleep(0.3)

    def up(self) -> None:
        """In compose's order: migrate before the rest; the static files are the image's."""
        collectstatic = self.collectstatic()
        code, output = self.run("migrate", self.argv("migrate"), self.environment("migrate"))
        assert code == 0, f"migrate failed ({code}):\n{output[-3000:]}"
        # A heartbeat left by an earlier test must not pass for beat's.
        cache.delete(HEARTBEAT_CACHE_KEY)
        self.start_service("worker")
        self.start_service("beat")
        assert collectstatic.wait(WAIT) == 0, collectstatic.tail()
        self.start_service("web")
        self.wait_until("answer from /healthz", self.healthz, watch=("web", "worker", "beat"))

    def down(self) -> None:
        stop_all(list(self.processes.values()))

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.processes.values())


@pytest.fixture
def stack(transactional_db, tmp_path):
    """web, worker and beat running as compose runs them, against the test database
    (transactional, so they see what the test commits)."""
    compose = LocalCompose(tmp_path, kit.test_database_url())
    try:
        compose.up()
        yield compose
    finally:
        compose.down()


# --- The files themselves --------------------------------------------------------------


def test_compose_has_the_production_services_with_health_checks_and_volumes():
    assert {"db", "redis", *APP_SERVICES} <= set(SERVICES)
    assert SERVICES["db"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    for service in ("db", "redis", "web", "worker", "beat"):
        assert SERVICES[service]["healthcheck"]["test"], f"{service} has no health check"
    for service in ("web", "worker", "beat"):
        assert healthcheck_test(service) == ["python", "manage.py", "healthcheck", service]
    assert "/var/lib/postgresql/data" in named_volumes("db")
    assert "/data" in named_volumes("redis")
    schedule = compose_argv(SERVICES["beat"]["command"], {})
    schedule = schedule[schedule.index("--schedule") + 1]
    assert any(schedule.startswith(target + "/") for target in named_volumes("beat")), (
        "beat's schedule file must live in a volume, or every restart forgets it"
    )
    declared = set(COMPOSE["volumes"])
    for service in SERVICES:
        assert set(named_volumes(service).values()) <= declared, f"{service}: undeclared volume"


def test_app_services_start_after_migrations_and_share_one_environment():
    for service in ("web", "worker", "beat"):
        after = SERVICES[service]["depends_on"]
        assert after["migrate"]["condition"] == "service_completed_successfully", service
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"
    shell = LocalCompose.operator_shell()
    for service in APP_SERVICES:
        env = compose_environment(service, shell)
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"] == shell["SECRET_KEY"]
        assert env["DEBUG"] == "false"
    worker = compose_argv(SERVICES["worker"]["command"], shell)
    queues = {queue.name for queue in celery_app.conf.task_queues}
    assert set(worker[worker.index("-Q") + 1].split(",")) == queues, "the worker must take all"
    web = SERVICES["web"]
    assert compose_environment("web", shell)["PORT"] == "8000"
    assert any(str(port).endswith(":8000") for port in web["ports"]), "publish port 8000"
    assert compose_argv(web["command"], shell) == dockerfile_exec_form("CMD")


def test_compose_refuses_to_start_without_the_secrets():
    for missing in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        shell = LocalCompose.operator_shell()
        del shell[missing]
        with pytest.raises(MissingVariable, match=missing):
            compose_environment("web", shell)


def test_dockerfile_builds_a_non_root_image_with_collected_static_files():
    instructions = dockerfile_instructions()
    assert ("FROM", "python:3.12-slim") in instructions
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the app must not run as root"
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    assert any(re.search(r"pip install (--no-deps )?\.(\s|$)", args) for args in installs), (
        "install the package itself, without extras"
    )
    assert not any(re.search(r"pip install[^&]*\.\[", args) for args in installs), (
        "no embedded or dev extras in the image"
    )
    env, argv = dockerfile_run_step("collectstatic")
    assert argv == ["python", "manage.py", "collectstatic", "--noinput"]
    assert env["DEBUG"] == "false"
    assert len(env["SECRET_KEY"]) >= 50
    assert dockerfile_exec_form("CMD") == ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
    healthcheck = next(args for keyword, args in instructions if keyword == "HEALTHCHECK")
    assert healthcheck.endswith('CMD ["python", "manage.py", "healthcheck", "web"]')


def test_compose_and_dockerfile_name_only_files_that_exist_and_reach_the_image():
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def excluded(path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        return any(fnmatch(prefix, pattern) for pattern in ignored for prefix in prefixes)

    for required in (".venv", "var", ".git", "tests/artifacts"):
        assert excluded(required), f".dockerignore must exclude {required}"

    # Besides paths: the modules the commands name (config.wsgi, -A config).
    referenced = {"manage.py", "pyproject.toml", "config/wsgi.py", "config/celery.py"}
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY":
            referenced.update(source for source in args.split()[:-1] if source != ".")
    shell = LocalCompose.operator_shell()
    for service in APP_SERVICES:
        assert SERVICES[service]["build"] == ".", f"{service} must run the image built here"
        argvs = [compose_argv(SERVICES[service]["command"], shell)]
        if "test" in SERVICES[service].get("healthcheck", {}):
            argvs.append(healthcheck_test(service))
        mounts = named_volumes(service)
        for arg in (arg for argv in argvs for arg in argv):
            if any(arg == target or arg.startswith(target + "/") for target in mounts):
                continue  # in a volume: made at run time
            if arg.startswith(CONTAINER_APP_DIR + "/"):
                referenced.add(arg.removeprefix(CONTAINER_APP_DIR + "/"))
            elif arg.endswith(".py") or ("/" in arg and not arg.startswith("-")):
                referenced.add(arg)
    for path in sorted(referenced):
        assert (REPO / path).exists(), f"{path} is referenced but not in the repository"
        assert not excluded(path), f"{path} is referenced but .dockerignore leaves it out"
    # Named volumes start with the image's folder and its owner; the app user must own it.
    chown = next(args for kw, args in dockerfile_instructions() if kw == "RUN" and "chown" in args)
    for service in APP_SERVICES:
        for target in named_volumes(service):
            relative = target.removeprefix(CONTAINER_APP_DIR + "/")
            assert relative in chown.split(), f"the image must create {relative} for its user"


# --- The healthcheck command, failing ----------------------------------------------------


def test_healthchecks_fail_with_one_line_when_nothing_answers(tmp_path):
    """Nothing listens on the port, no worker on a fresh broker, no heartbeat in a fresh
    cache: each check exits non-zero with one line saying why."""
    compose = LocalCompose(tmp_path, kit.test_database_url())
    nowhere = {
        "web": {"PORT": str(kit.free_port())},
        "worker": {
            "BROKER_KEY_PREFIX": f"bdtest-nobody-{uuid.uuid4().hex[:8]}:",
            "BROKER_DIR": str(tmp_path / "broker"),
        },
        "beat": {
            "CACHE_KEY_PREFIX": f"bdtest-nobody-{uuid.uuid4().hex[:8]}",
            "CACHE_DIR": str(tmp_path / "cache"),
        },
    }
    expected = {
        "web": "no answer from",
        "worker": "did not answer a ping",
        "beat": "no worker heartbeat",
    }
    checks = {}
    try:
        for service, env in nowhere.items():
            argv = compose.argv(service, healthcheck_test(service))
            if service == "worker":
                argv += ["--timeout", "1"]  # the default waits longer for nothing
            checks[service] = compose.start(service, argv, compose.environment(service) | env)
        for service, process in checks.items():
            assert process.wait(30) != 0, process.tail()
            lines = process.log.read_text().strip().splitlines()
            assert len(lines) == 1, process.tail()
            assert re.search(f"{service} unhealthy: .*{expected[service]}", lines[0]), lines[0]
    finally:
        stop_all(list(checks.values()))


@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    HEARTBEAT_SECONDS=1,
)
def test_beat_healthcheck_fails_on_a_stale_heartbeat():
    cache.set(HEARTBEAT_CACHE_KEY, (timezone.now() - timedelta(seconds=10)).isoformat())
    with pytest.raises(CommandError, match=r"last worker heartbeat 10 s ago, over the 3 s"):
        call_command("healthcheck", "beat")
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat())
    call_command("healthcheck", "beat")


# --- The services, running ---------------------------------------------------------------


def test_services_run_and_pass_their_health_checks(stack):
    """One test, not one per service: parallel runs (xdist) split a module's tests across
    processes, and each would start the whole set again."""
    web_serves_pages_and_the_images_static_files(stack)
    web_logs_in_a_user_the_test_committed(stack)
    worker_answers_its_health_check(stack)
    beat_heartbeat_reaches_the_worker(stack)


def web_serves_pages_and_the_images_static_files(stack: LocalCompose) -> None:
    status, _, html = stack.request("GET", "/accounts/login/")
    assert status == 200, stack.logs()
    # Hashed names prove the manifest storage runs on the Dockerfile's collectstatic output.
    stylesheet = re.search(r'href="(/static/css/bridgedesk\.[0-9a-f]{12}\.css)"', html)
    assert stylesheet, "the login page links no hashed stylesheet"
    status, headers, _ = stack.request("GET", stylesheet[1])
    assert status == 200
    assert "immutable" in headers["Cache-Control"]
    status, _, body = stack.request("GET", "/healthz")
    assert status == 200
    assert json.loads(body)["database"] == "ok"
    code, output = stack.healthcheck("web")
    assert code == 0, output


def web_logs_in_a_user_the_test_committed(stack: LocalCompose) -> None:
    get_user_model().objects.create_user("compose-agent", password="compose-pass-1")
    status, headers, html = stack.request("GET", "/accounts/login/")
    cookies = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token and "csrftoken" in cookies, "the login page sets no CSRF token"
    # Cookies are Secure (production defaults) and this is plain HTTP: send them by hand.
    status, headers, _ = stack.request(
        "POST",
        "/accounts/login/",
        body=urlencode(
            {
                "csrfmiddlewaretoken": token[1],
                "username": "compose-agent",
                "password": "compose-pass-1",
            }
        ),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken'].value}",
        },
    )
    assert status == 302, stack.logs()
    assert headers["Location"] == "/"
    assert "sessionid=" in " ".join(headers.get_all("Set-Cookie") or [])


def worker_answers_its_health_check(stack: LocalCompose) -> None:
    answers = []

    def healthy():
        answers.append(stack.healthcheck("worker"))
        return answers[-1][0] == 0

    stack.wait_until("pong from the worker", healthy, watch=("worker",))
    assert "worker healthy" in answers[-1][1]


def beat_heartbeat_reaches_the_worker(stack: LocalCompose) -> None:
    def heartbeat_shown():
        age = (stack.healthz() or {}).get("worker_heartbeat_age_seconds")
        return isinstance(age, int | float) and not isinstance(age, bool)

    stack.wait_until("heartbeat on /healthz", heartbeat_shown, watch=("beat", "worker"))
    code, output = stack.healthcheck("beat")
    assert code == 0, output + stack.logs()
    assert "beat healthy" in output
