"""Who may open which page: allowed, read-only, outsider and anonymous, for every view."""

import pytest

from projects.models import Project
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def cast(agent, outsider, pm, stakeholder, admin):
    return {
        "agent": agent,
        "outsider": outsider,
        "pm": pm,
        "stakeholder": stakeholder,
        "admin": admin,
        "anonymous": None,
    }


def status_of(client_for, user, url):
    response = client_for(user).get(url)
    if response.status_code == 302:
        return "login" if response["Location"].startswith(LOGIN) else response["Location"]
    return response.status_code


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", 200),
        ("admin", 200),
        ("outsider", 404),  # another queue's ticket: its existence stays secret
        ("pm", 403),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
def test_ticket_page(client_for, cast, ticket, who, expected):
    assert status_of(client_for, cast[who], f"/tickets/{ticket.pk}/") == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", 200),
        ("outsider", 200),
        ("admin", 200),
        ("pm", 403),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
def test_triage_page(client_for, cast, ticket, who, expected):
    assert status_of(client_for, cast[who], "/tickets/") == expected


def test_triage_lists_only_tickets_of_the_agents_queues(client_for, agent, outsider, ticket):
    assert ticket.subject in client_for(agent).get("/tickets/").content.decode()
    assert ticket.subject not in client_for(outsider).get("/tickets/").content.decode()


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("pm", 200),
        ("agent", 200),
        ("admin", 200),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
@pytest.mark.parametrize("path", ["/projects/", "/projects/VPN/"])
def test_project_pages(client_for, cast, project, path, who, expected):
    assert status_of(client_for, cast[who], path) == expected


def test_unknown_project_is_404(client_for, pm):
    assert client_for(pm).get("/projects/NOPE/").status_code == 404


@pytest.mark.parametrize(
    ("visibility", "who", "expected"),
    [
        ("public", "anonymous", 200),
        ("public", "stakeholder", 200),
        ("stakeholders", "stakeholder", 200),
        ("stakeholders", "other_stakeholder", 404),
        ("stakeholders", "anonymous", 404),
        ("stakeholders", "agent", 200),
        ("private", "stakeholder", 404),
        ("private", "anonymous", 404),
        ("private", "pm", 200),
    ],
)
def test_status_page_follows_visibility(client_for, cast, project, visibility, who, expected):
    Project.objects.filter(pk=project.pk).update(visibility=visibility)
    cast["other_stakeholder"] = factories.StakeholderFactory()
    assert status_of(client_for, cast[who], "/status/vpn/") == expected


# The portfolio is open to anyone: each visitor sees only the pages shared with them
# (anonymous visitors: the public ones).
@pytest.mark.parametrize(("who", "expected"), [("stakeholder", 200), ("anonymous", 200)])
def test_status_index(client_for, cast, who, expected):
    assert status_of(client_for, cast[who], "/status/") == expected


def test_status_index_lists_only_pages_shared_with_the_stakeholder(
    client_for, stakeholder, project
):
    hidden = factories.ProjectFactory(name="Secret merger", visibility="private")
    page = client_for(stakeholder).get("/status/").content.decode()
    assert project.name in page
    assert hidden.name not in page


def test_requester_link_shows_public_entries_only(client, ticket, agent):
    factories.TicketEventFactory(ticket=ticket, kind="reply", public=True, body="We are on it")
    factories.TicketEventFactory(ticket=ticket, kind="note", public=False, body="Caller is VIP")
    response = client.get(f"/t/{ticket.secret}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "We are on it" in page
    assert "Caller is VIP" not in page
    # No Referer leaves for other sites; same-origin keeps the page's own forms passing CSRF.
    assert response["Referrer-Policy"] == "same-origin"


def test_requester_link_with_a_wrong_secret_is_404(client, ticket):
    assert client.get(f"/t/{ticket.secret[:-2]}xx/").status_code == 404


def test_requester_secret_has_at_least_128_random_bits(ticket):
    # token_urlsafe: 6 bits per character.
    assert len(ticket.secret) * 6 >= 128


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", 200),
        ("agent", "/admin/login/?next=/admin/"),
        ("anonymous", "/admin/login/?next=/admin/"),
    ],
)
def test_admin_is_for_staff_only(client_for, cast, who, expected):
    assert status_of(client_for, cast[who], "/admin/") == expected


def test_home_needs_login(client):
    assert status_of(lambda user: client, None, "/") == "login"
