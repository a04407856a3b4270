"""Who may read a status page, its Atom feed and its calendar: the visibility matrix
(anonymous, stakeholder of the project, stakeholder of another project, signed link,
revoked link, agent, PM), and the planners' page that hands out and revokes links."""

import pytest
from django.conf import settings
from django.core import signing

from liaison import status
from liaison.models import StatusLink
from projects.models import Project
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ALL = ("anonymous", "stakeholder", "other_stakeholder", "link", "revoked_link", "agent", "pm")
EXPECTED = {
    "public": dict.fromkeys(ALL, 200),
    "stakeholders": {
        "anonymous": 404,
        "stakeholder": 200,
        "other_stakeholder": 404,
        "link": 200,
        "revoked_link": 404,
        "agent": 200,
        "pm": 200,
    },
    "private": {
        "anonymous": 404,
        "stakeholder": 404,
        "other_stakeholder": 404,
        "link": 404,  # a link never opens a private page
        "revoked_link": 404,
        "agent": 200,
        "pm": 200,
    },
}
SUFFIXES = {"page": "", "feed": "feed.atom", "calendar": "milestones.ics"}


@pytest.fixture
def cast(agent, pm, stakeholder, project):
    other = factories.StakeholderFactory(username="other-stakeholder")
    factories.ProjectFactory(key="WIFI", slug="wifi", stakeholders=[other])
    return {"agent": agent, "pm": pm, "stakeholder": stakeholder, "other_stakeholder": other}


@pytest.fixture
def links(project, pm):
    live = status.status_link_create(project=project, label="Finance leads", actor=pm)
    revoked = status.status_link_create(project=project, label="Old supplier", actor=pm)
    status.status_link_revoke(link=revoked, actor=pm)
    return {"link": live, "revoked_link": revoked}


def fetch(client_for, cast, links, who, url):
    if who in links:
        return client_for(None).get(url, {"key": status.link_token(links[who])})
    return client_for(cast.get(who)).get(url)


@pytest.mark.parametrize("what", list(SUFFIXES))
@pytest.mark.parametrize("visibility", list(EXPECTED))
@pytest.mark.parametrize("who", ALL)
def test_visibility_matrix(client_for, cast, links, project, what, visibility, who):
    Project.objects.filter(pk=project.pk).update(visibility=visibility)
    factories.MilestoneFactory(project=project)
    response = fetch(client_for, cast, links, who, f"/status/vpn/{SUFFIXES[what]}")
    assert response.status_code == EXPECTED[visibility][who]


def test_an_unknown_page_is_404(client):
    assert client.get("/status/nope/").status_code == 404
    assert client.get("/status/nope/feed.atom").status_code == 404


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "1" + token,
        lambda token: token.split(":")[0],
        lambda token: "garbage",
        lambda token: "",
    ],
)
def test_a_tampered_key_opens_nothing(client, project, links, mangle):
    token = mangle(status.link_token(links["link"]))
    assert client.get("/status/vpn/", {"key": token}).status_code == 404


def test_a_link_opens_only_its_own_project(client, project, links, pm):
    other = factories.ProjectFactory(slug="other", owner=pm)
    token = status.link_token(links["link"])
    assert client.get(f"/status/{other.slug}/", {"key": token}).status_code == 404


def test_a_link_signed_with_another_key_opens_nothing(client, project, links):
    link = links["link"]
    forged = signing.Signer(key="not-our-secret-" + "x" * 40, salt=status.LINK_SALT).sign(
        f"{link.pk}.{status._stamp(link)}"
    )
    assert client.get("/status/vpn/", {"key": forged}).status_code == 404


def test_a_link_token_carries_a_full_signature(links):
    _value, signature = status.link_token(links["link"]).rsplit(":", 1)
    assert len(signature) * 6 >= 128  # base64: 6 bits a character


def test_revoking_shuts_the_page_feed_and_calendar_at_once(client, project, links, pm):
    token = status.link_token(links["link"])
    for suffix in SUFFIXES.values():
        assert client.get(f"/status/vpn/{suffix}", {"key": token}).status_code == 200
    status.status_link_revoke(link=links["link"], actor=pm)
    for suffix in SUFFIXES.values():
        assert client.get(f"/status/vpn/{suffix}", {"key": token}).status_code == 404


def test_a_link_reader_gets_the_key_in_the_feed_links(client, project, links):
    token = status.link_token(links["link"])
    html = client.get("/status/vpn/", {"key": token}).content.decode()
    assert "feed.atom?key=" in html
    assert "milestones.ics?key=" in html


def test_pages_that_are_not_public_stay_out_of_caches_and_search_engines(
    client, client_for, project, stakeholder
):
    response = client_for(stakeholder).get("/status/vpn/")
    assert response["Cache-Control"] == "private, no-store"
    assert "noindex" in response["X-Robots-Tag"]
    Project.objects.filter(pk=project.pk).update(visibility="public")
    assert "X-Robots-Tag" not in client_for(None).get("/status/vpn/")


def test_a_team_member_without_a_role_reads_the_private_page(client_for, project):
    member = factories.UserFactory(username="member")
    project.members.add(member)
    Project.objects.filter(pk=project.pk).update(visibility="private")
    assert client_for(member).get("/status/vpn/").status_code == 200


# --- The planners' link page ----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("pm", 200), ("agent", 403), ("stakeholder", 403), ("anonymous", "login")],
)
def test_who_may_manage_links(client_for, cast, project, who, expected):
    response = client_for(cast.get(who)).get("/projects/VPN/status-links/")
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN)
        assert expected == "login"
    else:
        assert response.status_code == expected


def test_a_pm_creates_a_link_that_opens_the_page(client_for, client, pm, project):
    pm_client = client_for(pm)
    response = pm_client.post("/projects/VPN/status-links/", {"label": "Finance leads"})
    assert response.status_code == 302
    link = StatusLink.objects.get(project=project)
    assert link.label == "Finance leads" and link.created_by == pm
    html = pm_client.get("/projects/VPN/status-links/").content.decode()
    url = status.link_url(link)
    assert url.startswith(settings.SITE_URL + "/status/vpn/?key=")
    assert url.replace("&", "&amp;") in html or url in html
    client.logout()
    assert client.get(url.removeprefix(settings.SITE_URL)).status_code == 200


def test_an_empty_label_is_refused_with_a_message(client_for, pm, project):
    response = client_for(pm).post("/projects/VPN/status-links/", {"label": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not StatusLink.objects.exists()


def test_a_too_long_label_is_refused_and_kept(client_for, pm, project):
    response = client_for(pm).post("/projects/VPN/status-links/", {"label": "x" * 101})
    assert response.status_code == 400
    assert "x" * 101 in response.content.decode()


def test_a_pm_revokes_a_link(client_for, client, pm, project, links):
    token = status.link_token(links["link"])
    response = client_for(pm).post(f"/projects/VPN/status-links/{links['link'].pk}/revoke/")
    assert response.status_code == 302
    links["link"].refresh_from_db()
    assert links["link"].revoked_at is not None
    client.logout()
    assert client.get("/status/vpn/", {"key": token}).status_code == 404


def test_revoking_twice_keeps_the_first_moment(client_for, pm, links):
    link = links["revoked_link"]
    first = link.revoked_at
    client_for(pm).post(f"/projects/VPN/status-links/{link.pk}/revoke/")
    link.refresh_from_db()
    assert link.revoked_at == first


def test_another_projects_link_cannot_be_revoked_here(client_for, pm, project):
    other = factories.ProjectFactory(key="OTHER", owner=pm)
    link = status.status_link_create(project=other, label="Theirs", actor=pm)
    response = client_for(pm).post(f"/projects/VPN/status-links/{link.pk}/revoke/")
    assert response.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_revoke_needs_a_post(client_for, pm, links):
    response = client_for(pm).get(f"/projects/VPN/status-links/{links['link'].pk}/revoke/")
    assert response.status_code == 405


def test_the_status_page_offers_link_management_to_planners_only(
    client_for, pm, agent, stakeholder, project
):
    assert "/projects/VPN/status-links/" in client_for(pm).get("/status/vpn/").content.decode()
    assert (
        "/projects/VPN/status-links/" not in client_for(agent).get("/status/vpn/").content.decode()
    )
    html = client_for(stakeholder).get("/status/vpn/").content.decode()
    assert "/projects/VPN/status-links/" not in html
    assert "/projects/VPN/" not in html
