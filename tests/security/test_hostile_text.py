"""Hostile text typed by callers, agents or e-mails renders inert on every page: no
script runs, no handler fires, no javascript: link, no SVG, no markup escapes."""

from html.parser import HTMLParser

import pytest

from helpdesk.models import Ticket
from helpdesk.services import ticket_create, ticket_reply, ticket_update
from projects.models import Project
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE = [
    '<script>alert("xss")</script>',
    '<img src=x onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)">click</a>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '"><iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
]
OWN_SCRIPTS = {
    "/static/js/htmx-2.0.11.min.js",
    "/static/js/bridgedesk.js",
    "/static/js/liaison-desk.js",
}


class ElementCollector(HTMLParser):
    """Every element the browser would build from the page, with its attributes."""

    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def assert_inert(html: str):
    """No element or attribute that runs code came from user text: text that merely reads
    like markup (escaped as &lt;script&gt;) is fine; an element is not."""
    collector = ElementCollector()
    collector.feed(html)
    for tag, attrs in collector.elements:
        assert tag not in {"iframe", "svg", "style", "object", "embed"}, (tag, attrs)
        if tag == "script":
            assert attrs.get("src") in OWN_SCRIPTS or attrs.get("type") == "application/json"
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in {"href", "src", "action"} and value:
                assert not value.strip().lower().startswith(("javascript:", "data:")), (tag, attrs)


@pytest.fixture
def hostile_ticket(queue, agent, project):
    text = "\n\n".join(HOSTILE)
    ticket = ticket_create(
        queue=queue,
        subject=" ".join(HOSTILE)[:250],
        requester_email="evil@example.org",
        requester_name='<b onmouseover="alert(1)">Eve</b><script>x</script>',
        description=text,
        acknowledge=False,
    )
    ticket_reply(ticket=ticket, author=agent, body=text, public=True)
    ticket_reply(ticket=ticket, author=agent, body=text, public=False)
    ticket_update(ticket=ticket, actor=agent, version=None, tags=["<script>", "onerror=x"])
    Ticket.objects.filter(pk=ticket.pk).update(project=project)
    Project.objects.filter(pk=project.pk).update(
        description=text, name='<img src=x onerror="alert(1)">', visibility="public"
    )
    return ticket


@pytest.mark.parametrize("page", ["triage", "ticket", "requester", "status", "project"])
def test_hostile_text_is_inert_everywhere(client_for, agent, hostile_ticket, page):
    paths = {
        "triage": "/tickets/?status=all",
        "ticket": f"/tickets/{hostile_ticket.pk}/",
        "requester": f"/t/{hostile_ticket.secret}/",
        "status": "/status/vpn/",
        "project": "/projects/VPN/",
    }
    client = client_for(None if page in {"requester", "status"} else agent)
    response = client.get(paths[page])
    assert response.status_code == 200
    assert_inert(response.content.decode())


def test_hostile_names_in_the_admin_are_escaped(client_for, admin, hostile_ticket):
    html = client_for(admin).get("/admin/helpdesk/contact/").content.decode()
    assert "<b onmouseover" not in html
    assert "&lt;b onmouseover" in html


def test_hostile_text_in_a_factory_made_event_is_inert_too(client_for, agent, ticket):
    factories.TicketEventFactory(ticket=ticket, body=HOSTILE[1])
    assert_inert(client_for(agent).get(f"/tickets/{ticket.pk}/").content.decode())


def test_one_text_cannot_plant_links_or_markup_in_the_next():
    """The sanitiser reuses its Markdown converter between texts: a reference definition,
    footnote or stashed HTML of one caller's text must not reach another's."""
    from config.text import render_user_text

    planted = render_user_text('Hi\n\n[help]: https://evil.example "Help"\n\n<b>bold</b>')
    assert "evil.example" not in planted
    following = render_user_text("Please see [help] and [the desk][help].")
    assert "<a" not in following
    assert "evil.example" not in following
    assert render_user_text("**two**") == "<p><strong>two</strong></p>"
