"""The cast every domain's tests share, and the guards for real services.

Cast: `agent` (member of `queue`), `outsider` (an agent in another queue), `pm`,
`stakeholder`, `requester` (a Contact), `admin` (superuser), plus `queue`, `ticket`,
`project`. Logged-in clients: `client_for(user)`.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests import factories

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"


def require_service(available: bool, what: str) -> None:
    """Skip when a real service is missing on a developer's machine; fail in CI, where
    every service must be there and nothing may silently not run."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available here")


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url), "Redis (REDIS_URL)")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    require_service(shutil.which(CHROMIUM) is not None, f"Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def queue(db, agent):
    return factories.QueueFactory(
        name="Service desk", slug="service-desk", key="SD", members=[agent]
    )


@pytest.fixture
def agent(db):
    return factories.AgentFactory(username="agent")


@pytest.fixture
def outsider(db):
    """An agent who works a different queue."""
    other = factories.AgentFactory(username="outsider")
    factories.QueueFactory(name="Elsewhere", slug="elsewhere", key="EL", members=[other])
    return other


@pytest.fixture
def pm(db):
    return factories.ProjectManagerFactory(username="pm")


@pytest.fixture
def stakeholder(db):
    return factories.StakeholderFactory(username="stakeholder")


@pytest.fixture
def admin(db):
    return factories.UserFactory(username="boss", is_superuser=True, is_staff=True)


@pytest.fixture
def requester(db):
    return factories.ContactFactory(email="caller@example.org", name="Casey Caller")


@pytest.fixture
def ticket(queue, requester):
    return factories.TicketFactory(queue=queue, requester=requester, subject="Printer on fire")


@pytest.fixture
def project(pm, stakeholder):
    return factories.ProjectFactory(
        key="VPN", name="VPN replacement", slug="vpn", owner=pm, stakeholders=[stakeholder]
    )


@pytest.fixture
def client_for(client):
    """`client_for(user)` → the test client, logged in as `user` (None: anonymous)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login
