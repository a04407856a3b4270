"""`make run` (config.devserver): one command brings up web, worker and beat; Ctrl-C
stops them all; problems a user can fix are one line."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from tests.kit import ROOT, Process, child_env, free_port, wait_for

DEVSERVER = [sys.executable, "-m", "config.devserver"]


def run_devserver(**env):
    return subprocess.run(
        DEVSERVER, cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=60
    )


@pytest.mark.django_db
def test_a_busy_port_is_one_line_naming_it():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_devserver(PORT=port)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"bridgedesk: port {port} on 127.0.0.1 is already in use; stop that program or set PORT"
    )


@pytest.mark.django_db
def test_a_broken_setting_is_one_line_naming_it():
    result = run_devserver(PORT=free_port(), TIME_ZONE="Mars/Olympus_Mons")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "bridgedesk: configuration error: TIME_ZONE is not a known time zone: 'Mars/Olympus_Mons'"
    )


class Browser:
    """Just enough of a browser to log in through the real login form."""

    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path):
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.status, response.url, response.read().decode()

    def log_in(self, username, password):
        _, _, page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"}
        ).encode()
        request = urllib.request.Request(
            self.base + "/accounts/login/", data=data, headers={"Referer": self.base}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.url


@pytest.mark.django_db(transaction=True)
def test_make_run_serves_the_demo_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(PORT=port, DEBUG="true")
    with Process(DEVSERVER, env=env, log=tmp_path / "run.log", new_session=True) as run:

        def login_page_served():
            try:
                return Browser(base).get("/accounts/login/")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_for(login_page_served, timeout=90, what=f"the login page ({run.log})")
        output = run.output()
        assert f"Bridgedesk is running at {base}/" in output
        assert "admin, agent, pm, stakeholder" in output

        homes = {}
        for username in ("admin", "agent", "pm", "stakeholder"):
            homes[username] = urllib.parse.urlparse(Browser(base).log_in(username, "demo")).path
        assert homes == {
            "admin": "/tickets/",
            "agent": "/tickets/",
            "pm": "/projects/",
            "stakeholder": "/status/",
        }

        started = psutil.Process(run.popen.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "runserver" in names
        assert "worker" in names
        assert "beat" in names

        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(run.popen.pid, signal.SIGINT)
        run.popen.wait(30)
        _gone, alive = psutil.wait_procs(started, timeout=15)
        assert alive == [], f"still running after Ctrl-C: {alive}"
