"""Inbound e-mail: every message is kept as it arrived, then becomes a ticket or a reply.

Two steps, so that nothing is ever lost:

1. `inbound_receive` stores the raw bytes as an InboundMessage and commits. Only then
   does the webhook answer 200 and IMAP mark the message seen.
2. `inbound_process` parses the message and calls the ticket services. Whatever goes
   wrong is recorded on the row (status failed, with the error) for an admin to read and
   retry in Django admin; processing the same message again, or another copy of it, does
   nothing twice (see `_already_handled`).

Rules, in order:
- mail written by a machine (auto-reply, bounce, report) or sent by Bridgedesk itself is
  ignored: no ticket, no reply, no outgoing mail, so no loops;
- a Message-ID already seen is ignored as a duplicate;
- a message that answers a ticket (In-Reply-To/References naming one of its messages,
  else a reference such as [SD-42] in the subject) is added to it: from the requester as
  their public reply (which reopens a pending or resolved ticket); from anyone else as an
  internal note naming the sender, since a subject line anyone can type must not let a
  stranger write on someone's ticket, reopen it or reach the requester's page;
- anything else opens a ticket in the queue whose inbound address the mail was sent to,
  else in INBOUND_DEFAULT_QUEUE; with neither, the message fails and waits for an admin.

Quoted history is trimmed from replies only. A new ticket keeps its whole text: what
looks like history there (a forward, a colleague's thread) is the request itself.
"""

import imaplib
import logging
import ssl
import traceback
from contextlib import contextmanager, suppress
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone

from helpdesk import mail
from helpdesk.attachments import check_attachment, clean_filename
from helpdesk.models import InboundMessage, Queue, Ticket, TicketEvent
from helpdesk.services import (
    NewFile,
    ticket_create,
    ticket_reply,
    ticket_reply_from_requester,
)

logger = logging.getLogger(__name__)

DONE = (InboundMessage.Status.PROCESSED, InboundMessage.Status.IGNORED)
IMAP_BATCH = 200  # messages per fetch; the rest wait for the next run
IMAP_TIMEOUT = 60  # seconds for any one IMAP network operation


class InboundRejected(Exception):
    """The message cannot be processed as it stands; an admin must act, then retry."""


# --- Receiving ---------------------------------------------------------------------------


def inbound_receive(*, raw: bytes, source: str, recipient: str = "") -> InboundMessage:
    """Store one message exactly as received. `recipient` is the envelope recipient when
    the transport knows it (a webhook does); otherwise the first delivery address in the
    headers is recorded. The caller commits before acknowledging the message upstream."""
    raw = bytes(raw)
    return InboundMessage.objects.create(
        raw=raw,
        source=source,
        recipient=(recipient or mail.header_recipient(raw)).strip()[:255],
        message_id=mail.dedupe_key(raw),
    )


def inbound_ingest(*, raw: bytes, source: str, recipient: str = "") -> InboundMessage:
    """Receive and process one message now (files, IMAP)."""
    return inbound_process(message=inbound_receive(raw=raw, source=source, recipient=recipient))


# --- Processing --------------------------------------------------------------------------


def inbound_process(*, message: InboundMessage) -> InboundMessage:
    """Turn a stored message into a ticket or a reply; idempotent. Never raises for a bad
    message: the outcome (processed, ignored with the reason, failed with the error) is
    saved on the row, which is returned."""
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update().get(pk=message.pk)
        if row.status in DONE:
            return row
        try:
            with transaction.atomic():
                status, ticket, note = _process(row)
        except Exception as exc:
            logger.warning("inbound message %s failed: %s", row.pk, exc, exc_info=True)
            status, ticket, note = InboundMessage.Status.FAILED, None, _describe(exc)
        row.status, row.ticket, row.error = status, ticket, note
        row.processed_at = timezone.now()
        row.save(update_fields=["status", "ticket", "error", "processed_at"])
    return row


def _describe(exc: Exception) -> str:
    if isinstance(exc, InboundRejected):
        return str(exc)
    if isinstance(exc, ValidationError):
        return "Refused: " + "; ".join(exc.messages)
    trace = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}\n\n{trace[-4000:]}"


def _process(row: InboundMessage):
    parsed = mail.parse(bytes(row.raw))
    if parsed.auto_reason:
        return InboundMessage.Status.IGNORED, None, f"Written by a machine: {parsed.auto_reason}."
    if not parsed.from_email:
        raise InboundRejected("The message names no valid sender address (From).")
    if parsed.from_email in _our_addresses():
        return (
            InboundMessage.Status.IGNORED,
            None,
            f"Sent by Bridgedesk itself ({parsed.from_email}); ignored so mail cannot loop.",
        )

    key = row.message_id or parsed.message_id
    _lock(key)
    handled, ticket = _already_handled(key, row)
    if handled:
        return InboundMessage.Status.IGNORED, ticket, f"Duplicate: {key} was already processed."

    ticket = _thread(parsed)
    if ticket is not None:
        return _add_to_ticket(ticket, parsed)

    queue = _route(parsed, row.recipient)
    files, refused = _acceptable_files(parsed.attachments)
    ticket = ticket_create(
        queue=queue,
        subject=parsed.subject,
        requester_email=parsed.from_email,
        requester_name=parsed.from_name,
        description=_with_notes(parsed.text, refused),
        source=Ticket.Source.EMAIL,
        files=files,
        message_id=parsed.message_id,
    )
    return InboundMessage.Status.PROCESSED, ticket, _refused_note(refused)


def _lock(key: str) -> None:
    """Serialise processing of one Message-ID (a webhook retry racing an IMAP fetch of
    the same mail), until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _already_handled(key: str, row: InboundMessage) -> tuple[bool, Ticket | None]:
    event = TicketEvent.objects.filter(message_id=key).select_related("ticket").first()
    if event is not None:
        return True, event.ticket
    earlier = (
        InboundMessage.objects.filter(message_id=key, status=InboundMessage.Status.PROCESSED)
        .exclude(pk=row.pk)
        .select_related("ticket")
        .first()
    )
    if earlier is not None:
        return True, earlier.ticket
    return False, None


def _our_addresses() -> set[str]:
    ours = {
        parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(),
        parseaddr(settings.SERVER_EMAIL)[1].lower(),
    }
    ours |= {
        address.lower()
        for address in Queue.objects.exclude(inbound_address="").values_list(
            "inbound_address", flat=True
        )
    }
    return ours - {""}


def _follow_merges(ticket: Ticket) -> Ticket:
    for _ in range(20):  # merges cannot form a cycle; the bound is belt and braces
        if ticket.merged_into_id is None:
            break
        ticket = Ticket.objects.select_related("queue", "requester").get(pk=ticket.merged_into_id)
    return ticket


def _thread(parsed: mail.ParsedMail) -> Ticket | None:
    """The ticket this message answers: by the ids it replies to (exact), else by a
    ticket reference in its subject."""
    if parsed.references:
        events = TicketEvent.objects.filter(message_id__in=parsed.references).select_related(
            "ticket__queue", "ticket__requester"
        )
        by_id = {event.message_id: event.ticket for event in events}
        for message_id in parsed.references:  # In-Reply-To first, then newest reference
            if message_id in by_id:
                return _follow_merges(by_id[message_id])
            root = mail.parse_thread_root(message_id)
            if root:
                ticket = (
                    Ticket.objects.select_related("queue", "requester")
                    .filter(queue__key=root[0], number=root[1])
                    .first()
                )
                if ticket is not None and mail.is_thread_root_of(ticket, root[2]):
                    return _follow_merges(ticket)
    for key, number in mail.subject_references(parsed.subject):
        ticket = (
            Ticket.objects.select_related("queue", "requester")
            .filter(queue__key=key, number=number)
            .first()
        )
        if ticket is not None:
            return _follow_merges(ticket)
    return None


def _route(parsed: mail.ParsedMail, envelope_recipient: str) -> Queue:
    """The queue whose inbound address the mail was delivered to (envelope recipient
    first, then Delivered-To, X-Original-To, To, Cc; `box+tag@` also matches `box@`),
    else INBOUND_DEFAULT_QUEUE."""
    candidates = []
    for address in [envelope_recipient.lower(), *parsed.recipients]:
        if not address:
            continue
        candidates.append(address)
        local, _, domain = address.partition("@")
        if "+" in local:
            candidates.append(f"{local.split('+', 1)[0]}@{domain}")
    if candidates:
        queues = {
            queue.address: queue
            for queue in Queue.objects.annotate(address=Lower("inbound_address")).filter(
                address__in=candidates
            )
        }
        for address in candidates:
            if address in queues:
                return queues[address]
    slug = settings.INBOUND_DEFAULT_QUEUE
    if slug:
        queue = Queue.objects.filter(slug=slug).first()
        if queue is not None:
            return queue
        raise InboundRejected(
            f"INBOUND_DEFAULT_QUEUE names the queue “{slug}”, which does not exist. "
            "Fix the setting or create the queue, then retry this message."
        )
    named = ", ".join(candidates) or "no address"
    raise InboundRejected(
        f"No queue has the inbound address this mail was sent to ({named}) and "
        "INBOUND_DEFAULT_QUEUE is not set. Give a queue that inbound address or set "
        "INBOUND_DEFAULT_QUEUE, then retry this message."
    )


def _acceptable_files(files: list[mail.MailFile]) -> tuple[list[NewFile], list[str]]:
    """The attachments the help desk accepts, and why each other one was left out. A
    refused file must not cost the caller their whole message; it stays in the raw
    message an admin can download from the InboundMessage."""
    accepted, refused = [], []
    for file in files:
        try:
            check_attachment(filename=clean_filename(file.filename), content=file.content)
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
        else:
            accepted.append(NewFile(filename=file.filename, content=file.content))
    return accepted, refused


def _refused_note(refused: list[str]) -> str:
    if not refused:
        return ""
    return "Attachments left out (they remain in the raw message): " + " ".join(refused)


def _with_notes(text: str, refused: list[str]) -> str:
    if not refused:
        return text
    notes = "\n".join(f"[Attachment not kept: {reason}]" for reason in refused)
    return f"{text}\n\n{notes}" if text.strip() else notes


def _add_to_ticket(ticket: Ticket, parsed: mail.ParsedMail):
    text = parsed.text if parsed.is_forward else mail.trim_quoted(parsed.text)
    files, refused = _acceptable_files(parsed.attachments)
    body = _with_notes(text, refused)
    if not body.strip() and not files:
        return InboundMessage.Status.IGNORED, ticket, "An empty reply: nothing to add."
    if parsed.from_email == ticket.requester.email:
        ticket_reply_from_requester(
            ticket=ticket, body=body, files=files, message_id=parsed.message_id
        )
        return InboundMessage.Status.PROCESSED, ticket, _refused_note(refused)
    sender = f"{parsed.from_name} <{parsed.from_email}>" if parsed.from_name else parsed.from_email
    note = (
        f"E-mail from {sender}, who is not the requester of this ticket. Kept as an internal "
        "note: the requester does not see it and it does not change the ticket.\n\n"
        f"{body}"
    )
    ticket_reply(ticket=ticket, author=None, body=note, public=False, files=files)
    outcome = "Added as an internal note: not from the requester."
    if refused:
        outcome += " " + _refused_note(refused)
    return InboundMessage.Status.PROCESSED, ticket, outcome


# --- Anymail webhook ---------------------------------------------------------------------


def _raw_mime(event) -> bytes:
    """The message as the provider posted it. Providers with a raw-MIME option (Mailgun
    `inbound_mime`, Postmark "include raw email", SendGrid "send raw", SparkPost) give
    us the exact text; otherwise Anymail's parsed message is serialised again."""
    esp_event = event.esp_event
    raw = None
    if isinstance(esp_event, HttpRequest):
        raw = esp_event.POST.get("body-mime") or esp_event.POST.get("email")
    elif isinstance(esp_event, dict):
        raw = esp_event.get("RawEmail")
    if raw:
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    try:
        return event.message.as_bytes()
    except Exception:
        return event.message.as_string().encode("utf-8", "replace")


def handle_inbound_webhook(sender, event, esp_name, **kwargs) -> None:
    """Anymail's `inbound` signal: store the message (committed before the provider gets
    its 200), then let a worker process it. If the broker cannot take the task, the
    message is processed here and now rather than left waiting."""
    recipient = getattr(event.message, "envelope_recipient", None) or ""
    message = inbound_receive(
        raw=_raw_mime(event), source=InboundMessage.Source.WEBHOOK, recipient=recipient
    )
    transaction.on_commit(lambda: _dispatch(message.pk))


def _dispatch(message_pk: int) -> None:
    from helpdesk.tasks import process_inbound

    try:
        process_inbound.delay(message_pk)
    except Exception:
        logger.warning("broker unavailable; processing inbound message %s inline", message_pk)
        inbound_process(message=InboundMessage(pk=message_pk))


# --- IMAP --------------------------------------------------------------------------------


@contextmanager
def _only_fetcher():
    """At most one IMAP fetch at a time across all workers (a PostgreSQL advisory lock
    held by this connection); yields whether this one may run."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext('bridgedesk.imap_fetch'))")
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext('bridgedesk.imap_fetch'))")


def _imap_connect() -> imaplib.IMAP4:
    if settings.IMAP_SSL:
        client = imaplib.IMAP4_SSL(
            settings.IMAP_HOST,
            settings.IMAP_PORT,
            ssl_context=ssl.create_default_context(),
            timeout=IMAP_TIMEOUT,
        )
    else:
        client = imaplib.IMAP4(settings.IMAP_HOST, settings.IMAP_PORT, timeout=IMAP_TIMEOUT)
    client.login(settings.IMAP_USER, settings.IMAP_PASSWORD)
    return client


def _check(response, what: str):
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP {what} failed: {status} {data!r}")
    return data


def imap_fetch(*, limit: int | None = None) -> list[InboundMessage]:
    """Fetch the unseen messages of IMAP_FOLDER: each is stored and committed, only then
    marked seen on the server, then processed. A crash before marking it seen leaves the
    message unseen, so the next run fetches it again and the copy is recognised as a
    duplicate; a message that crashes processing is already seen, so it cannot make every
    run crash (its row waits, pending, for `ingest_mail --pending`).

    Precondition: not inside a transaction (the commit before marking seen is the point).
    IMAP and network errors propagate; what was committed so far stays."""
    if connection.in_atomic_block:
        raise RuntimeError("imap_fetch must run outside a transaction")
    limit = limit or IMAP_BATCH
    results: list[InboundMessage] = []
    with _only_fetcher() as acquired:
        if not acquired:
            logger.info("another IMAP fetch is running; skipping this one")
            return results
        client = _imap_connect()
        try:
            folder = settings.IMAP_FOLDER
            _check(client.select(f'"{folder}"' if " " in folder else folder), "SELECT")
            data = _check(client.uid("SEARCH", None, "UNSEEN"), "SEARCH")
            uids = data[0].split() if data and data[0] else []
            for uid in uids[:limit]:
                fetched = _check(client.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
                raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
                if raw is None:
                    continue  # expunged meanwhile
                message = inbound_receive(raw=raw, source=InboundMessage.Source.IMAP)
                try:
                    _check(client.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "STORE")
                finally:
                    # Processed even if the server would not mark it seen: the copy the
                    # next fetch brings is then recognised as a duplicate.
                    results.append(inbound_process(message=message))
        finally:
            with suppress(imaplib.IMAP4.error, OSError):
                client.close()
            with suppress(imaplib.IMAP4.error, OSError):
                client.logout()
    return results
