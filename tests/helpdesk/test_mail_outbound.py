"""Mail we send: acknowledgement, public reply, assignment notice. Threading headers so
answers come back to the ticket, loop-safe headers on automatic mail, and internal notes
never in any of it. Django's locmem backend stands in for the SMTP server."""

import email
import email.policy

import pytest

from config.celery import app
from helpdesk import mail
from helpdesk.inbound import inbound_ingest
from helpdesk.models import InboundMessage, TicketEvent
from helpdesk.services import NewFile, ticket_reply, ticket_update
from helpdesk.tasks import send_assignment_notice, send_public_reply, send_ticket_acknowledgement
from tests import factories
from tests.helpdesk.test_mail_parsing import make_mail
from tests.kit import celery_worker, wait_for

INBOX = "help@bridgedesk.example"
CALLER_MESSAGE_ID = "<first-mail@example.org>"


@pytest.fixture(autouse=True)
def mail_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://help.example.org"
    settings.DEFAULT_FROM_EMAIL = "Bridgedesk <noreply@bridgedesk.example>"


@pytest.fixture
def inbox(queue):
    queue.inbound_address = INBOX
    queue.save(update_fields=["inbound_address"])
    return queue


@pytest.fixture
def mailed_ticket(inbox):
    """A ticket the caller opened by e-mail."""
    message = inbound_ingest(
        raw=make_mail(message_id=CALLER_MESSAGE_ID), source=InboundMessage.Source.FILE
    )
    return message.ticket


@pytest.fixture
def colleague(queue):
    other = factories.AgentFactory(username="colleague")
    queue.members.add(other)
    return other


def sent(mailoutbox, index=-1) -> email.message.Message:
    """A mail as it went out, headers and all."""
    return email.message_from_bytes(
        mailoutbox[index].message().as_bytes(), policy=email.policy.default
    )


def body_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


@pytest.mark.django_db
def test_the_acknowledgement_threads_under_the_callers_mail_and_says_it_is_automatic(
    mailed_ticket, mailoutbox
):
    send_ticket_acknowledgement(mailed_ticket.pk)
    ack = sent(mailoutbox)
    assert ack["To"] == "caller@example.org"
    assert ack["Subject"] == "[SD-1] Printer on fire"
    assert ack["Message-ID"] == mail.thread_root(mailed_ticket)
    assert ack["In-Reply-To"] == CALLER_MESSAGE_ID
    assert ack["References"] == CALLER_MESSAGE_ID
    assert ack["Reply-To"] == INBOX
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert f"https://help.example.org/t/{mailed_ticket.secret}/" in body_of(ack)
    event = mailed_ticket.events.get(kind=TicketEvent.Kind.SYSTEM)
    assert (event.message_id, event.public) == (ack["Message-ID"], False)
    send_ticket_acknowledgement(mailed_ticket.pk)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_public_reply_is_mailed_to_the_caller_once_after_commit_and_threads(
    mailed_ticket, agent, mailoutbox, django_capture_on_commit_callbacks
):
    send_ticket_acknowledgement(mailed_ticket.pk)
    agent.first_name, agent.last_name = "Alex", "Agent"
    agent.save()
    with django_capture_on_commit_callbacks() as callbacks:
        reply = ticket_reply(
            ticket=mailed_ticket,
            author=agent,
            body="Please switch it off at the wall.",
            files=[NewFile("steps.txt", b"1. switch off\n2. wait")],
        )
    assert len(callbacks) == 1 and len(mailoutbox) == 1  # nothing sent before commit
    send_public_reply(reply.pk)
    send_public_reply(reply.pk)  # a redelivered task
    assert len(mailoutbox) == 2
    message = sent(mailoutbox)
    reply.refresh_from_db()
    root = mail.thread_root(mailed_ticket)
    assert message["To"] == "caller@example.org"
    assert message["Subject"] == "[SD-1] Printer on fire"
    assert message["From"] == "Alex Agent · Service desk <noreply@bridgedesk.example>"
    assert message["Reply-To"] == INBOX
    assert message["Message-ID"] == reply.message_id != ""
    assert message["In-Reply-To"] == root
    assert message["References"] == f"{CALLER_MESSAGE_ID} {root}"
    assert message["Auto-Submitted"] is None  # a person wrote it
    text = body_of(message)
    assert text.startswith("Please switch it off at the wall.")
    assert f"https://help.example.org/t/{mailed_ticket.secret}/" in text
    assert [p.get_filename() for p in message.walk() if p.get_filename()] == ["steps.txt"]

    second = ticket_reply(ticket=mailed_ticket, author=agent, body="Any luck?")
    send_public_reply(second.pk)
    assert sent(mailoutbox)["In-Reply-To"] == reply.message_id
    assert sent(mailoutbox)["References"].endswith(f"{root} {reply.message_id}")


@pytest.mark.django_db
def test_the_callers_answer_to_a_mailed_reply_comes_back_to_the_ticket(
    mailed_ticket, agent, mailoutbox
):
    reply = ticket_reply(ticket=mailed_ticket, author=agent, body="Is it fixed?")
    send_public_reply(reply.pk)
    ours = sent(mailoutbox)
    answer = make_mail(
        subject="Re: " + ours["Subject"],
        headers={"In-Reply-To": ours["Message-ID"], "References": ours["References"]},
        body=f"Yes, thanks!\n\nOn Tue, 5 Mar 2024 at 18:03, {ours['From']} wrote:\n> Is it fixed?",
    )
    message = inbound_ingest(raw=answer, source=InboundMessage.Source.FILE)
    assert message.ticket == mailed_ticket
    assert mailed_ticket.events.filter(kind="reply", body="Yes, thanks!").exists()


@pytest.mark.django_db
def test_internal_notes_never_go_out_in_any_mail(
    mailed_ticket, agent, colleague, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        note = ticket_reply(
            ticket=mailed_ticket, author=agent, body="SECRET: caller owes us money", public=False
        )
    assert callbacks == []  # a note enqueues no mail
    send_public_reply(note.pk)  # and a note's id given to the task sends nothing
    assert mailoutbox == []
    stranger = inbound_ingest(
        raw=make_mail(
            sender="someone@else.example",
            subject="Re: [SD-1]",
            body="SECRET from a stranger",
            message_id="<stranger@else.example>",
        ),
        source=InboundMessage.Source.FILE,
    )
    assert stranger.ticket == mailed_ticket

    send_ticket_acknowledgement(mailed_ticket.pk)
    reply = ticket_reply(ticket=mailed_ticket, author=agent, body="We are on it.")
    send_public_reply(reply.pk)
    ticket_update(ticket=mailed_ticket, actor=agent, version=None, assignee=colleague)
    send_assignment_notice(mailed_ticket.pk, colleague.pk)

    assert len(mailoutbox) == 3
    for message in mailoutbox:
        raw = message.message().as_bytes()
        assert b"SECRET" not in raw
        assert b"stranger@else.example" not in raw


@pytest.mark.django_db
def test_a_requesters_own_reply_is_not_mailed_back_to_them(mailed_ticket, mailoutbox):
    inbound_ingest(
        raw=make_mail(subject="Re: [SD-1]", body="More details."),
        source=InboundMessage.Source.FILE,
    )
    event = mailed_ticket.events.get(kind=TicketEvent.Kind.REPLY)
    send_public_reply(event.pk)
    assert mailoutbox == []


@pytest.mark.django_db
def test_an_assignment_notice_goes_to_the_agent_once(
    mailed_ticket, agent, colleague, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ticket_update(ticket=mailed_ticket, actor=agent, version=None, assignee=colleague)
    assert len(callbacks) == 1
    send_assignment_notice(mailed_ticket.pk, colleague.pk)
    send_assignment_notice(mailed_ticket.pk, colleague.pk)
    assert len(mailoutbox) == 1
    notice = sent(mailoutbox)
    assert notice["To"] == "colleague@staff.example"
    assert notice["Subject"] == "[SD-1] Printer on fire"
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice["Reply-To"] == INBOX
    text = body_of(notice)
    assert f"{agent.get_full_name()} assigned you SD-1 in Service desk" in text
    assert f"https://help.example.org/tickets/{mailed_ticket.pk}/" in text
    assert "The printer on floor 2 is on fire." in text
    event = mailed_ticket.events.get(kind=TicketEvent.Kind.ASSIGNMENT)
    assert event.message_id == notice["Message-ID"]


@pytest.mark.django_db
def test_no_notice_for_an_assignment_already_changed_again(
    mailed_ticket, agent, colleague, mailoutbox
):
    ticket_update(ticket=mailed_ticket, actor=agent, version=None, assignee=colleague)
    ticket_update(ticket=mailed_ticket, actor=colleague, version=None, assignee=agent)
    send_assignment_notice(mailed_ticket.pk, colleague.pk)
    assert mailoutbox == []


@pytest.mark.django_db
def test_an_agent_answering_the_notice_by_mail_adds_an_internal_note(
    mailed_ticket, agent, colleague, mailoutbox
):
    ticket_update(ticket=mailed_ticket, actor=agent, version=None, assignee=colleague)
    send_assignment_notice(mailed_ticket.pk, colleague.pk)
    notice = sent(mailoutbox)
    answer = make_mail(
        sender="colleague@staff.example",
        subject="Re: " + notice["Subject"],
        headers={"In-Reply-To": notice["Message-ID"]},
        body="I'll go up to floor 2.",
    )
    message = inbound_ingest(raw=answer, source=InboundMessage.Source.FILE)
    assert message.ticket == mailed_ticket
    note = mailed_ticket.events.get(kind=TicketEvent.Kind.NOTE)
    assert "I'll go up to floor 2." in note.body and note.public is False


@pytest.mark.parametrize(
    "task",
    [send_ticket_acknowledgement, send_public_reply, send_assignment_notice],
)
def test_mail_tasks_run_on_the_email_queue(task):
    assert app.amqp.router.route({}, task.name, (), {})["queue"].name == "email"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_public_reply_after_commit(tmp_path, mailed_ticket, agent):
    outbox = tmp_path / "outbox"
    with celery_worker(
        tmp_path,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=outbox,
        SITE_URL="https://help.example.org",
    ) as worker:
        reply = ticket_reply(ticket=mailed_ticket, author=agent, body="Sent by the worker.")

        def mailed():
            reply.refresh_from_db()
            return reply.message_id

        wait_for(mailed, timeout=60, what=f"the worker (log: {worker.log})")
    messages = [email.message_from_bytes(path.read_bytes()) for path in outbox.iterdir()]
    replies = [m for m in messages if m["Message-ID"] == reply.message_id]
    assert len(replies) == 1
    assert "Sent by the worker." in replies[0].get_payload(decode=True).decode()
