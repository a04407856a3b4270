"""Inbound mail end to end through helpdesk/inbound.py: stored raw, then a ticket, a reply,
a note, ignored or failed. Real parsing, real database, real services."""

from email.utils import make_msgid
from pathlib import Path

import pytest

from config.text import render_user_text
from helpdesk.inbound import inbound_ingest, inbound_process, inbound_receive
from helpdesk.models import Attachment, InboundMessage, Ticket, TicketEvent
from helpdesk.services import ticket_reply, ticket_update
from helpdesk.tasks import send_public_reply, send_ticket_acknowledgement
from tests import factories
from tests.helpdesk.test_mail_parsing import HOSTILE_HTML, INERT_MARKERS, make_mail

pytestmark = pytest.mark.django_db

TESTDATA = Path("/work/shared/testdata/email/django-helpdesk")
INBOX = "help@bridgedesk.example"
FILE = InboundMessage.Source.FILE


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def inbox(queue):
    queue.inbound_address = INBOX
    queue.save(update_fields=["inbound_address"])
    return queue


@pytest.fixture
def default_queue(settings, queue):
    settings.INBOUND_DEFAULT_QUEUE = queue.slug
    return queue


def ingest(raw: bytes, **kwargs) -> InboundMessage:
    return inbound_ingest(raw=raw, source=FILE, **kwargs)


def new_ticket(raw: bytes | None = None) -> Ticket:
    message = ingest(raw or make_mail())
    assert message.status == InboundMessage.Status.PROCESSED, message.error
    return message.ticket


# --- The six messages that once broke django-helpdesk --------------------------------

EXPECTATIONS = {
    "all-special-chars.eml": ("Testovácí email", "íářčšáíéřášč", []),
    "blank-body-with-attachment.eml": (
        "Attachment without body - and a loooo",
        "",
        [("baf", b"You shouldn't see this.\n")],
    ),
    "forwarded-message.eml": (
        "Test with original message from GitHub",
        "This is email body\n\n-----Original Message-----\nFrom: GitHub <noreply@github.com>",
        [],
    ),
    "pgp.eml": (
        "example email that crashes django-helpdesk get_email",
        "hi, thanks for looking into this :)",
        [("signature.asc", b"-----BEGIN PGP SIGNATURE-----")],
    ),
    "quoted_printable.eml": (
        "Český test",
        "Tohle je test českých písmen odeslaných z gmailu.",
        [],
    ),
    "utf-nondecodable.eml": (
        "Fwd: Cyklozaměstnavatel - změna vyhodnocení",
        "-------- Forwarded Message --------\nSubject: \tCyklozaměstnavatel",
        [],
    ),
}


def test_every_testdata_file_is_covered():
    assert sorted(p.name for p in TESTDATA.glob("*.eml")) == sorted(EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_each_testdata_message_becomes_a_ticket_as_a_user_expects(name, default_queue):
    subject, text, files = EXPECTATIONS[name]
    message = ingest((TESTDATA / name).read_bytes())
    assert message.status == InboundMessage.Status.PROCESSED, message.error
    ticket = message.ticket
    assert ticket.queue == default_queue
    assert ticket.source == Ticket.Source.EMAIL
    assert ticket.subject.startswith(subject)
    assert len(ticket.subject) <= 255
    assert ticket.description.startswith(text)
    created = ticket.events.get(kind=TicketEvent.Kind.CREATED)
    assert created.message_id == message.message_id
    stored = [(a.filename, a.file.read()) for a in ticket.attachments.order_by("id")]
    assert len(stored) == len(files)
    for (filename, content), (expected_name, expected_start) in zip(stored, files, strict=True):
        assert filename == expected_name
        assert content.startswith(expected_start)


def test_the_forwarded_message_is_kept_whole_as_the_description(default_queue):
    ticket = new_ticket((TESTDATA / "forwarded-message.eml").read_bytes())
    assert "We noticed that, at April 5th, 2021" in ticket.description
    assert ticket.description.rstrip().endswith("The GitHub Team")


def test_none_of_the_testdata_is_lost_and_ingesting_again_makes_nothing_new(default_queue):
    for path in sorted(TESTDATA.glob("*.eml")):
        ingest(path.read_bytes())
    assert Ticket.objects.count() == 6
    for path in sorted(TESTDATA.glob("*.eml")):
        again = ingest(path.read_bytes())
        assert again.status == InboundMessage.Status.IGNORED
        assert again.error.startswith("Duplicate")
        assert again.ticket is not None
    assert Ticket.objects.count() == 6
    assert InboundMessage.objects.count() == 12
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLY).count() == 0


def test_the_queue_is_chosen_by_the_address_the_mail_was_sent_to(default_queue):
    other = factories.QueueFactory(key="HR", inbound_address="helpdesk@auto-mat.cz")
    ticket = new_ticket((TESTDATA / "quoted_printable.eml").read_bytes())
    assert ticket.queue == other
    assert ticket.reference == "HR-1"


# --- New tickets -----------------------------------------------------------------------


def test_a_new_mail_opens_a_ticket_for_the_sender_and_stores_the_raw_message(inbox):
    raw = make_mail(message_id="<first@example.org>")
    message = ingest(raw)
    ticket = message.ticket
    assert bytes(message.raw) == raw
    assert (message.message_id, message.recipient) == ("<first@example.org>", INBOX)
    assert message.processed_at is not None
    assert ticket.queue == inbox
    assert ticket.subject == "Printer on fire"
    assert ticket.description == "The printer on floor 2 is on fire."
    assert (ticket.requester.email, ticket.requester.name) == ("caller@example.org", "Casey Caller")


def test_the_acknowledgement_is_enqueued_only_once_the_ticket_is_committed(
    inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ingest(make_mail())
    assert len(callbacks) == 1  # send_ticket_acknowledgement


def test_mail_to_a_cc_or_plus_address_of_a_queue_lands_there(inbox):
    by_cc = new_ticket(make_mail(to="someone@example.org", headers={"Cc": f"Desk <{INBOX}>"}))
    by_plus = new_ticket(make_mail(to="help+urgent@bridgedesk.example"))
    by_delivery = new_ticket(make_mail(to="alias@example.org", headers={"Delivered-To": INBOX}))
    assert {by_cc.queue, by_plus.queue, by_delivery.queue} == {inbox}


def test_mail_for_no_queue_without_a_default_fails_with_advice_and_is_kept(queue):
    message = ingest(make_mail(to="nobody@example.org"))
    assert message.status == InboundMessage.Status.FAILED
    assert "nobody@example.org" in message.error
    assert "INBOUND_DEFAULT_QUEUE" in message.error
    assert not Ticket.objects.exists()
    assert InboundMessage.objects.get().raw


def test_an_admin_fixes_the_routing_and_retries_the_failed_message(admin, queue, client_for):
    failed = ingest(make_mail(to=INBOX))
    assert failed.status == InboundMessage.Status.FAILED
    queue.inbound_address = INBOX
    queue.save(update_fields=["inbound_address"])
    response = client_for(admin).post(
        "/admin/helpdesk/inboundmessage/",
        {"action": "retry", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "1 of 1 messages processed." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == InboundMessage.Status.PROCESSED
    assert failed.error == ""
    assert failed.ticket.queue == queue


def test_a_message_that_cannot_be_parsed_is_kept_as_failed(inbox):
    message = ingest(b"\x00\xff this is not an e-mail")
    assert message.status == InboundMessage.Status.FAILED
    assert "sender" in message.error
    assert bytes(message.raw) == b"\x00\xff this is not an e-mail"


def test_processing_a_message_twice_makes_one_ticket(inbox):
    message = inbound_receive(raw=make_mail(), source=FILE)
    first = inbound_process(message=message)
    second = inbound_process(message=message)
    assert first.status == second.status == InboundMessage.Status.PROCESSED
    assert Ticket.objects.count() == 1


def test_two_copies_of_one_message_make_one_ticket(inbox):
    raw = make_mail(message_id="<copy@example.org>")
    first, second = (inbound_receive(raw=raw, source=FILE) for _ in range(2))
    inbound_process(message=second)
    inbound_process(message=first)
    first.refresh_from_db()
    assert first.status == InboundMessage.Status.IGNORED
    assert Ticket.objects.count() == 1


def test_a_message_without_message_id_is_still_recognised_when_it_comes_again(inbox):
    raw = b"From: caller@example.org\r\nTo: help@bridgedesk.example\r\nSubject: Hi\r\n\r\nHello\r\n"
    ingest(raw)
    assert ingest(raw).status == InboundMessage.Status.IGNORED
    assert Ticket.objects.count() == 1


def test_acceptable_attachments_are_kept_and_unacceptable_ones_noted(inbox):
    raw = make_mail(
        attachments=[
            ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
            ("invoice.html", b"<html><script>alert(1)</script></html>", "text/html"),
            ("setup.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/octet-stream"),
        ]
    )
    message = ingest(raw)
    ticket = message.ticket
    assert [a.filename for a in Attachment.objects.filter(ticket=ticket)] == ["photo.png"]
    assert ticket.description.startswith("The printer on floor 2 is on fire.")
    assert "[Attachment not kept: “invoice.html”" in ticket.description
    assert "[Attachment not kept: “setup.exe”" in ticket.description
    assert "setup.exe" in message.error  # the admin sees it too


def test_hostile_html_mail_is_stored_as_inert_text(inbox):
    ticket = new_ticket(make_mail(body=None, html=HOSTILE_HTML, subject="<script>x</script>"))
    for marker in INERT_MARKERS:
        assert marker not in ticket.description.lower()
        assert marker not in str(render_user_text(ticket.description)).lower()
    assert "my laptop will not start" in ticket.description


def test_hostile_html_mail_renders_inert_on_the_agent_page(inbox, agent, client_for):
    ticket = new_ticket(make_mail(body=None, html=HOSTILE_HTML, subject="<svg onload=alert(1)>"))
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert "my laptop will not start" in page
    assert "<svg onload" not in page and "javascript:alert" not in page
    assert "<script>alert" not in page


def test_nul_characters_never_reach_the_database(inbox):
    raw = (
        b"From: caller@example.org\r\nTo: help@bridgedesk.example\r\nSubject: a\x00b\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nnul\x00here\r\n"
    )
    ticket = new_ticket(raw)
    assert (ticket.subject, ticket.description) == ("a b", "nulhere")


# --- Machines and loops ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"Return-Path": "<>"},
    ],
)
def test_auto_replies_open_no_ticket_and_send_nothing(
    inbox, headers, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = ingest(make_mail(subject="Out of office", headers=headers))
    assert message.status == InboundMessage.Status.IGNORED
    assert message.error.startswith("Written by a machine")
    assert not Ticket.objects.exists()
    assert callbacks == [] and mailoutbox == []


def test_an_auto_reply_to_our_acknowledgement_adds_nothing_to_the_ticket(inbox, mailoutbox):
    ticket = new_ticket()
    send_ticket_acknowledgement(ticket.pk)
    ack = mailoutbox[0]
    events_before = ticket.events.count()
    message = ingest(
        make_mail(
            subject=f"Automatic reply: {ack.subject}",
            headers={
                "Auto-Submitted": "auto-replied",
                "In-Reply-To": ack.extra_headers["Message-ID"],
            },
        )
    )
    assert message.status == InboundMessage.Status.IGNORED
    assert ticket.events.count() == events_before
    assert len(mailoutbox) == 1


def test_a_bounce_from_the_mailer_daemon_is_ignored(inbox):
    message = ingest(
        make_mail(
            sender="Mail Delivery System <MAILER-DAEMON@mx.example.org>", subject="Undelivered"
        )
    )
    assert message.status == InboundMessage.Status.IGNORED
    assert not Ticket.objects.exists()


def test_mail_from_our_own_address_is_ignored(inbox, settings):
    settings.DEFAULT_FROM_EMAIL = "Bridgedesk <noreply@bridgedesk.example>"
    for sender in ("noreply@bridgedesk.example", INBOX):
        message = ingest(make_mail(sender=sender))
        assert message.status == InboundMessage.Status.IGNORED
        assert "loop" in message.error
    assert not Ticket.objects.exists()


# --- Replies ---------------------------------------------------------------------------


def reply_to(ticket, *, sender="Casey Caller <caller@example.org>", **kwargs) -> InboundMessage:
    kwargs.setdefault("subject", f"Re: [{ticket.reference}] {ticket.subject}")
    return ingest(make_mail(sender=sender, **kwargs))


def test_a_reply_to_the_acknowledgement_threads_by_in_reply_to_and_reopens(
    inbox, mailoutbox, agent
):
    ticket = new_ticket()
    send_ticket_acknowledgement(ticket.pk)
    ack = mailoutbox[0]
    ticket_update(ticket=ticket, actor=agent, version=None, status=Ticket.Status.PENDING)
    message = reply_to(
        ticket,
        subject="Re: your ticket",  # no reference: the header alone threads it
        headers={"In-Reply-To": ack.extra_headers["Message-ID"]},
        body=(
            "It is still burning.\n\nOn Tue, 5 Mar 2024 at 18:03, Service desk "
            f"<{INBOX}> wrote:\n> we have received your request"
        ),
        message_id="<answer@example.org>",
    )
    assert message.status == InboundMessage.Status.PROCESSED
    assert message.ticket == ticket
    reply = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert (reply.body, reply.public) == ("It is still burning.", True)
    assert reply.author_contact == ticket.requester
    assert reply.message_id == "<answer@example.org>"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert Ticket.objects.count() == 1


def test_a_reply_threads_by_the_reference_in_its_subject(inbox):
    ticket = new_ticket()
    message = reply_to(ticket, subject=f"RE: {ticket.reference} printer", body="Any news?")
    assert message.ticket == ticket
    assert ticket.events.filter(kind=TicketEvent.Kind.REPLY, body="Any news?").exists()


def test_a_reply_threads_by_references_to_an_agents_reply(inbox, agent, mailoutbox):
    ticket = new_ticket()
    answer = ticket_reply(ticket=ticket, author=agent, body="Please restart it.")
    send_public_reply(answer.pk)
    sent = mailoutbox[-1].extra_headers["Message-ID"]
    message = reply_to(
        ticket,
        subject="Re: printer",
        headers={"References": f"<unrelated@example.org> {sent}"},
        body="Restarted, fine now.\n\n> Please restart it.",
    )
    assert message.ticket == ticket
    assert ticket.events.filter(body="Restarted, fine now.", public=True).exists()


def test_a_reply_by_attachment_only_is_kept(inbox):
    ticket = new_ticket()
    message = reply_to(ticket, body="", attachments=[("log.txt", b"error 42", "text/plain")])
    reply = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert message.status == InboundMessage.Status.PROCESSED
    assert [a.filename for a in reply.attachments.all()] == ["log.txt"]


def test_a_forwarded_message_sent_as_a_reply_is_not_trimmed(inbox):
    ticket = new_ticket()
    body = "FYI\n\n---------- Forwarded message ---------\nFrom: Boss\n\n> the original"
    reply_to(ticket, subject=f"Fwd: [{ticket.reference}] printer", body=body)
    assert ticket.events.get(kind=TicketEvent.Kind.REPLY).body == body


def test_a_reply_from_someone_else_becomes_an_internal_note(inbox, client_for):
    ticket = new_ticket()
    ticket_update(ticket=ticket, actor=None, version=None, status=Ticket.Status.RESOLVED)
    message = reply_to(
        ticket, sender="Mallory <mallory@evil.example>", body="Send me the password."
    )
    assert message.status == InboundMessage.Status.PROCESSED
    assert "not from the requester" in message.error
    note = ticket.events.get(kind=TicketEvent.Kind.NOTE)
    assert note.public is False
    assert note.author is None
    assert "mallory@evil.example" in note.body and "Send me the password." in note.body
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED  # a stranger reopens nothing
    page = client_for(None).get(ticket.get_requester_url()).content.decode()
    assert "Send me the password." not in page


def test_a_reply_to_a_merged_ticket_lands_on_the_ticket_it_was_merged_into(inbox):
    source, target = new_ticket(), new_ticket(make_mail(subject="Printer again"))
    Ticket.objects.filter(pk=source.pk).update(merged_into=target)
    message = reply_to(source, body="Still broken.")
    assert message.ticket == target
    assert target.events.filter(kind=TicketEvent.Kind.REPLY).exists()


def test_a_reference_to_an_unknown_ticket_opens_a_new_one(inbox):
    message = ingest(make_mail(subject="Re: [SD-999] old thing"))
    assert message.ticket.reference == "SD-1"


def test_the_same_reply_twice_is_recorded_once(inbox):
    ticket = new_ticket()
    raw = make_mail(subject=f"Re: [{ticket.reference}]", body="Once.")
    ingest(raw)
    assert ingest(raw).status == InboundMessage.Status.IGNORED
    assert ticket.events.filter(kind=TicketEvent.Kind.REPLY).count() == 1


def test_the_same_note_twice_is_recorded_once(inbox):
    ticket = new_ticket()
    raw = make_mail(subject=f"Re: [{ticket.reference}]", sender="colleague@example.org")
    ingest(raw)
    assert ingest(raw).status == InboundMessage.Status.IGNORED
    assert ticket.events.filter(kind=TicketEvent.Kind.NOTE).count() == 1


def test_an_empty_reply_is_ignored_not_failed(inbox):
    ticket = new_ticket()
    message = reply_to(ticket, body="\n")
    assert message.status == InboundMessage.Status.IGNORED
    assert not ticket.events.filter(kind=TicketEvent.Kind.REPLY).exists()


def test_a_forged_thread_root_does_not_thread(inbox):
    ticket = new_ticket()
    forged = f"<{ticket.reference}.0123456789abcdef@localhost>"
    message = ingest(make_mail(subject="Hello", headers={"In-Reply-To": forged}))
    assert message.ticket != ticket


def test_a_reply_to_a_thread_root_threads_even_without_the_acknowledgement_event(inbox):
    from helpdesk.mail import thread_root

    ticket = new_ticket()
    message = ingest(
        make_mail(subject="Hello", headers={"References": thread_root(ticket)}, body="More.")
    )
    assert message.ticket == ticket
    assert ticket.events.filter(kind=TicketEvent.Kind.REPLY, body="More.").exists()


def test_message_ids_on_replies_are_unique_per_message(inbox):
    ticket = new_ticket()
    for n in range(3):
        reply_to(ticket, body=f"reply {n}", message_id=make_msgid(domain="example.org"))
    assert ticket.events.filter(kind=TicketEvent.Kind.REPLY).count() == 3
