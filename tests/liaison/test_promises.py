"""The promise ledger's intake: a public reply sent with the answer card's signed promise
records the date the caller was given; nothing else does."""

import time
from datetime import date

import pytest
from django.core import signing

from helpdesk.models import Ticket, TicketEvent
from helpdesk.signals import public_reply_posted
from liaison import desk
from liaison.models import Promise
from tests import factories

pytestmark = pytest.mark.django_db

PROMISED = date(2027, 3, 22)


@pytest.fixture
def milestone(project):
    return factories.MilestoneFactory(
        project=project, name="Go-live", baseline_date=date(2027, 3, 1), target_date=PROMISED
    )


@pytest.fixture
def linked(ticket, project, milestone):
    Ticket.objects.filter(pk=ticket.pk).update(project=project)
    ticket.refresh_from_db()
    return ticket


def reply(client, ticket, token, public="1", body="It is planned for Mon 22 Mar 2027."):
    ticket.refresh_from_db()
    data = {"body": body, "public": public, "version": ticket.version, "promise": token}
    return client.post(f"/tickets/{ticket.pk}/reply/", data)


def card_token(client, ticket):
    """The promise the answer card offers, read from the page as the browser would."""
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    start = page.index('data-promise="') + len('data-promise="')
    return page[start : page.index('"', start)]


def test_a_public_reply_with_the_cards_promise_records_it(client_for, agent, linked, milestone):
    client = client_for(agent)
    token = card_token(client, linked)

    assert reply(client, linked, token).status_code == 302

    promise = Promise.objects.get()
    event = linked.events.get(kind=TicketEvent.Kind.REPLY)
    assert (promise.ticket, promise.milestone, promise.promised_date) == (
        linked,
        milestone,
        PROMISED,
    )
    assert (promise.event, promise.made_by) == (event, agent)


def test_the_same_promise_sent_twice_is_one_promise(client_for, agent, linked):
    client = client_for(agent)
    token = card_token(client, linked)
    reply(client, linked, token)
    reply(client, linked, token, body="As I said: Mon 22 Mar.")
    assert Promise.objects.count() == 1
    assert linked.events.filter(kind=TicketEvent.Kind.REPLY).count() == 2


def test_a_reply_without_a_promise_records_none(client_for, agent, linked):
    reply(client_for(agent), linked, "")
    assert not Promise.objects.exists()


def test_an_internal_note_records_no_promise(client_for, agent, linked):
    client = client_for(agent)
    reply(client, linked, card_token(client, linked), public="0")
    assert linked.events.filter(kind=TicketEvent.Kind.NOTE).exists()
    assert not Promise.objects.exists()


def tampered(token: str) -> str:
    """The token with its date changed but its signature kept."""
    payload, _, signature = token.rpartition(":")
    value = signing.loads(token, salt=desk.PROMISE_SALT)
    value["d"] = "2027-01-01"
    forged_payload = signing.dumps(value, salt="someone else's salt").rpartition(":")[0]
    assert forged_payload != payload
    return f"{forged_payload}:{signature}"


def test_a_tampered_promise_is_ignored(client_for, agent, linked):
    client = client_for(agent)
    token = tampered(card_token(client, linked))
    assert reply(client, linked, token).status_code == 302
    assert linked.events.filter(kind=TicketEvent.Kind.REPLY).exists()  # the reply still goes
    assert not Promise.objects.exists()


@pytest.mark.parametrize(
    "forge",
    [
        lambda ticket, milestone: signing.dumps(
            {"t": ticket.pk, "m": milestone.pk, "d": "2027-01-01"}, salt="wrong"
        ),
        lambda ticket, milestone: signing.dumps({"t": ticket.pk, "m": milestone.pk, "d": "x"}),
        lambda ticket, milestone: "not-a-token",
        lambda ticket, milestone: "x" * 600,
    ],
    ids=["wrong-key", "unsalted", "garbage", "huge"],
)
def test_a_forged_promise_is_ignored(client_for, agent, linked, milestone, forge):
    reply(client_for(agent), linked, forge(linked, milestone))
    assert not Promise.objects.exists()


def test_a_promise_made_for_another_ticket_is_ignored(client_for, agent, linked, milestone, queue):
    other = factories.TicketFactory(queue=queue, project=linked.project)
    token = desk.promise_token(other, milestone, PROMISED)
    reply(client_for(agent), linked, token)
    assert not Promise.objects.exists()


def test_a_promise_on_another_projects_milestone_is_ignored(client_for, agent, linked):
    foreign = factories.MilestoneFactory()
    token = desk.promise_token(linked, foreign, PROMISED)
    reply(client_for(agent), linked, token)
    assert not Promise.objects.exists()


def test_a_stale_promise_is_ignored(client_for, agent, linked, milestone, monkeypatch):
    long_ago = time.time() - desk.PROMISE_MAX_AGE.total_seconds() - 60
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    token = desk.promise_token(linked, milestone, PROMISED)
    monkeypatch.undo()
    reply(client_for(agent), linked, token)
    assert not Promise.objects.exists()


def test_the_reply_view_tells_listeners_about_a_public_reply(client_for, agent, linked):
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    public_reply_posted.connect(listener, dispatch_uid="test-listener")
    try:
        reply(client_for(agent), linked, "")
        reply(client_for(agent), linked, "", public="0")
    finally:
        public_reply_posted.disconnect(dispatch_uid="test-listener")
    [call] = heard
    assert call["ticket"] == linked and call["author"] == agent
    assert call["event"].kind == TicketEvent.Kind.REPLY
    assert call["data"]["body"].startswith("It is planned")


def test_a_reply_kept_after_a_conflict_keeps_its_promise(client_for, agent, linked):
    client = client_for(agent)
    token = card_token(client, linked)
    data = {"body": "Planned for Mon 22 Mar.", "public": "1", "version": 99, "promise": token}
    response = client.post(f"/tickets/{linked.pk}/reply/", data)
    assert response.status_code == 409
    assert f'name="promise" value="{token}"' in response.content.decode()
    assert not Promise.objects.exists()
