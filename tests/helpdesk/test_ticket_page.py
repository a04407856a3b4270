"""The agent's ticket page: reply and note, inline edits with versions, collisions,
merge, snooze, link, phone calls, canned responses, presence."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.models import CannedResponse, Ticket, TicketEvent
from helpdesk.services import ticket_reply, ticket_update
from tests import factories

pytestmark = pytest.mark.django_db


def url(ticket, action=""):
    return f"/tickets/{ticket.pk}/" + (f"{action}/" if action else "")


@pytest.mark.parametrize("events", [1, 200])
def test_ticket_page_runs_the_same_queries_for_1_and_200_events(
    client_for, agent, ticket, events, django_assert_num_queries
):
    factories.TicketEventFactory.create_batch(events, ticket=ticket, author=agent)
    client = client_for(agent)
    client.get(url(ticket))  # steady state: the projects' match queries are compiled
    # session, user, roles, ticket, events, their attachments, tags, canned responses,
    # queue members (assignee choices); no project is active, so none to suggest
    with django_assert_num_queries(9):
        response = client.get(url(ticket))
    assert len(response.context["events"]) == events


def test_public_reply_is_recorded_and_mailed_after_commit(
    client_for, agent, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(agent).post(
            url(ticket, "reply"), {"body": "Try a restart", "public": "1", "version": 1}
        )
    assert response.status_code == 302
    event = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert (event.public, event.author, event.body) == (True, agent, "Try a restart")
    assert len(callbacks) == 1  # the e-mail to the caller
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_internal_note_is_not_mailed(client_for, agent, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        client_for(agent).post(
            url(ticket, "reply"), {"body": "Caller is VIP", "public": "0", "version": 1}
        )
    assert ticket.events.get(kind=TicketEvent.Kind.NOTE).public is False
    assert callbacks == []


def test_a_reply_on_a_changed_ticket_is_held_back_and_the_draft_kept(client_for, agent, ticket):
    other = factories.AgentFactory()
    ticket.queue.members.add(other)
    ticket_reply(ticket=ticket, author=other, body="I have this one", public=True)
    response = client_for(agent).post(
        url(ticket, "reply"), {"body": "My careful answer", "public": "1", "version": 1}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed this ticket while you were working on it" in page
    assert "My careful answer" in page
    assert response.context["reply_form"]["version"].value() == 2
    assert not ticket.events.filter(body="My careful answer").exists()


def test_empty_reply_names_the_problem(client_for, agent, ticket):
    response = client_for(agent).post(
        url(ticket, "reply"), {"body": " ", "public": "1", "version": 1}
    )
    assert response.status_code == 400
    assert "Write something, or attach a file." in response.content.decode()


def test_inline_edit_changes_fields_and_writes_the_timeline(client_for, agent, ticket):
    response = client_for(agent).post(
        url(ticket, "edit"),
        {
            "version": 1,
            "status": "pending",
            "priority": "P2",
            "type": "request",
            "assignee": agent.pk,
            "tags": "VPN, laptop",
        },
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type, ticket.assignee) == (
        "pending",
        "P2",
        "request",
        agent,
    )
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["laptop", "vpn"]
    assert ticket.version == 2
    kinds = sorted(ticket.events.values_list("kind", flat=True))
    assert kinds == ["assignment", "change", "change", "change", "status"]


def test_a_stale_edit_is_refused_with_409_and_the_choices_kept(client_for, agent, ticket):
    ticket_update(ticket=ticket, actor=agent, version=1, priority="P1")
    response = client_for(agent).post(
        url(ticket, "edit"),
        {"version": 1, "status": "resolved", "priority": "P4", "type": "incident", "tags": ""},
    )
    assert response.status_code == 409
    assert response.context["edit_form"]["status"].value() == "resolved"
    assert response.context["edit_form"]["version"].value() == 2
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("new", "P1")


def test_assignee_must_work_the_queue(client_for, agent, outsider, ticket):
    response = client_for(agent).post(
        url(ticket, "edit"),
        {
            "version": 1,
            "status": "new",
            "priority": "P3",
            "type": "incident",
            "assignee": outsider.pk,
        },
    )
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_merge_moves_the_timeline_and_closes_the_source(client_for, agent, queue, ticket):
    target = factories.TicketFactory(queue=queue, subject="Printer still on fire")
    factories.TicketEventFactory(ticket=ticket, body="Smoke everywhere")
    response = client_for(agent).post(url(ticket, "merge"), {"target": target.reference.lower()})
    assert response["Location"] == url(target)
    ticket.refresh_from_db()
    assert (ticket.merged_into, ticket.status) == (target, "closed")
    assert target.events.filter(body="Smoke everywhere").exists()
    assert ticket.events.filter(kind=TicketEvent.Kind.MERGE).exists()


def test_merges_cannot_form_a_cycle(client_for, agent, queue, ticket):
    target = factories.TicketFactory(queue=queue)
    client = client_for(agent)
    client.post(url(ticket, "merge"), {"target": target.reference})
    response = client.post(url(target, "merge"), {"target": ticket.reference})
    assert response.status_code == 400
    assert (
        "already merged" in response.content.decode() or "was merged" in response.content.decode()
    )
    target.refresh_from_db()
    assert target.merged_into is None


def test_merge_into_an_invisible_ticket_is_refused(client_for, agent, outsider, ticket):
    foreign = factories.TicketFactory(queue=outsider.helpdesk_queues.get())
    response = client_for(agent).post(url(ticket, "merge"), {"target": foreign.reference})
    assert response.status_code == 400
    assert "No ticket with that reference" in response.content.decode()


def test_snooze_and_wake(client_for, agent, ticket):
    client = client_for(agent)
    until = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url(ticket, "snooze"), {"until": until}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.snoozed_until is not None
    client.post(url(ticket, "snooze"), {"wake": "1"})
    ticket.refresh_from_db()
    assert ticket.snoozed_until is None


def test_snooze_in_the_past_is_refused(client_for, agent, ticket):
    past = (timezone.localtime() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(agent).post(url(ticket, "snooze"), {"until": past})
    assert response.status_code == 400
    assert "Choose a moment in the future." in response.content.decode()


def test_link_to_project_and_milestone(client_for, agent, ticket, project):
    milestone = factories.MilestoneFactory(project=project)
    client_for(agent).post(url(ticket, "link"), {"project": "vpn", "milestone": milestone.pk})
    ticket.refresh_from_db()
    assert (ticket.project, ticket.milestone) == (project, milestone)


def test_log_a_phone_call(client_for, agent, ticket):
    client_for(agent).post(url(ticket, "call"), {"body": "Caller rang, printer fixed"})
    call = ticket.events.get(kind=TicketEvent.Kind.CALL)
    assert (call.public, call.author) == (False, agent)


def test_canned_responses_are_filled_in_for_this_ticket(client_for, agent, ticket, outsider):
    CannedResponse.objects.create(
        title="Restart",
        body="Hi ${requester_first_name}, restart ${ticket_reference}. ${agent_name}",
    )
    CannedResponse.objects.create(title="Elsewhere", body="x", queue=outsider.helpdesk_queues.get())
    CannedResponse.objects.create(title="Someone's own", body="x", owner=outsider)
    response = client_for(agent).get(url(ticket))
    page = response.content.decode()
    data = json.loads(
        page.split('id="canned-responses" type="application/json">')[1].split("</script>")[0]
    )
    name = agent.get_full_name()
    assert data == [{"title": "Restart", "body": f"Hi Casey, restart {ticket.reference}. {name}"}]


def test_presence_shows_who_else_is_viewing_and_typing(client_for, agent, ticket):
    colleague = factories.AgentFactory(first_name="Robin", last_name="Ray")
    ticket.queue.members.add(colleague)
    client_for(colleague).post(url(ticket, "presence"), {"typing": "1", "version": 1})
    response = client_for(agent).post(url(ticket, "presence"), {"typing": "0", "version": 1})
    assert "Robin Ray is typing a reply" in response.content.decode()


def test_presence_tells_the_agent_the_ticket_changed(client_for, agent, ticket):
    ticket_update(ticket=ticket, actor=agent, version=None, priority="P1")
    response = client_for(agent).post(url(ticket, "presence"), {"version": 1})
    assert "This ticket has changed since you opened it" in response.content.decode()


@pytest.mark.parametrize(
    "action", ["reply", "edit", "snooze", "merge", "link", "call", "assign-me", "presence"]
)
@pytest.mark.parametrize(
    ("who", "expected"), [("outsider", 404), ("stakeholder", 403), ("pm", 403)]
)
def test_actions_refuse_who_may_not_act(request, client_for, ticket, action, who, expected):
    user = request.getfixturevalue(who)
    assert client_for(user).post(url(ticket, action), {"body": "x"}).status_code == expected


@pytest.mark.parametrize("action", ["reply", "edit", "merge", "presence"])
def test_actions_send_anonymous_visitors_to_log_in(client, ticket, action):
    response = client.post(url(ticket, action))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_actions_only_take_post(client_for, agent, ticket):
    assert client_for(agent).get(url(ticket, "reply")).status_code == 405


def test_agent_logs_a_phone_ticket_for_a_caller(
    client_for, agent, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(agent).post(
            "/tickets/new/",
            {
                "queue": queue.pk,
                "requester_email": "Rita@Example.org",
                "requester_name": "Rita Ring",
                "subject": "Headset crackles",
                "description": "Called at 9:05",
                "source": "phone",
                "priority": "P2",
                "type": "incident",
                "assign_to_me": "on",
            },
        )
    ticket = Ticket.objects.get()
    assert response["Location"] == url(ticket)
    assert (ticket.source, ticket.priority, ticket.assignee) == ("phone", "P2", agent)
    assert ticket.requester.email == "rita@example.org"
    assert ticket.events.get(kind="created").author == agent
    assert len(callbacks) == 1  # the caller's acknowledgement with the link


def test_new_ticket_errors_keep_what_was_typed(client_for, agent, queue):
    response = client_for(agent).post(
        "/tickets/new/",
        {"queue": queue.pk, "requester_email": "not-an-address", "subject": "Kept subject"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address." in page
    assert 'value="Kept subject"' in page
    assert not Ticket.objects.exists()


def test_new_ticket_only_into_the_agents_queues(client_for, agent, outsider, queue):
    foreign = outsider.helpdesk_queues.get()
    response = client_for(agent).post(
        "/tickets/new/",
        {"queue": foreign.pk, "requester_email": "a@example.org", "subject": "x",
         "source": "phone", "priority": "P3", "type": "incident"},
    )  # fmt: skip
    assert response.status_code == 400
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(("who", "expected"), [("stakeholder", 403), ("pm", 403)])
def test_new_ticket_page_is_for_agents(request, client_for, who, expected):
    assert client_for(request.getfixturevalue(who)).get("/tickets/new/").status_code == expected
