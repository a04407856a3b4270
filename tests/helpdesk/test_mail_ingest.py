"""`manage.py ingest_mail` (.eml files, directories, mbox) and IMAP fetching. The IMAP
server is outside our world, so imaplib.IMAP4_SSL is replaced by a small in-memory
server at that edge; everything behind it is real."""

import imaplib
import mailbox
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from celery import Celery
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from config.celery import _schedule_periodic_tasks
from helpdesk import tasks
from helpdesk.inbound import imap_fetch, inbound_receive
from helpdesk.models import InboundMessage, Ticket
from tests.helpdesk.test_mail_parsing import make_mail

TESTDATA = Path("/work/shared/testdata/email/django-helpdesk")


@pytest.fixture(autouse=True)
def mail_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def default_queue(settings, queue):
    settings.INBOUND_DEFAULT_QUEUE = queue.slug
    return queue


def ingest_mail(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_mail", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- Files -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_directory_of_eml_files_becomes_tickets(default_queue):
    out, err = ingest_mail(TESTDATA)
    assert Ticket.objects.count() == 6
    assert out.strip().endswith("6 messages: 6 processed.")
    assert err == ""
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {"file"}


@pytest.mark.django_db
def test_the_same_file_twice_makes_one_ticket(default_queue):
    path = TESTDATA / "quoted_printable.eml"
    ingest_mail(path)
    out, _ = ingest_mail(path)
    assert Ticket.objects.count() == 1
    assert "ignored (ticket SD-1): Duplicate" in out


@pytest.mark.django_db
def test_an_mbox_file_becomes_one_ticket_per_message(default_queue, tmp_path):
    path = tmp_path / "archive"  # no suffix: recognised by its "From " line
    box = mailbox.mbox(path)
    for eml in sorted(TESTDATA.glob("*.eml")):
        box.add(mailbox.mboxMessage(eml.read_bytes()))
    box.close()
    out, _ = ingest_mail(path)
    assert Ticket.objects.count() == 6
    assert "6 messages: 6 processed." in out
    subjects = set(Ticket.objects.values_list("subject", flat=True))
    assert {"Český test", "Testovácí email"} <= subjects


@pytest.mark.django_db
def test_failures_are_reported_and_kept(queue, tmp_path):
    path = tmp_path / "lost.eml"
    path.write_bytes(make_mail(to="nobody@example.org"))
    out, err = ingest_mail(path)
    assert "1 messages: 1 failed." in out
    assert "lost.eml: failed: No queue has the inbound address" in err
    assert InboundMessage.objects.get().status == InboundMessage.Status.FAILED


@pytest.mark.django_db
def test_failed_and_pending_messages_can_be_processed_again(queue, settings, tmp_path):
    path = tmp_path / "later.eml"
    path.write_bytes(make_mail(to="nobody@example.org"))
    ingest_mail(path)
    inbound_receive(raw=make_mail(subject="Left pending"), source=InboundMessage.Source.WEBHOOK)
    settings.INBOUND_DEFAULT_QUEUE = queue.slug
    out, _ = ingest_mail("--pending", "--failed")
    assert "2 messages: 2 processed." in out
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_the_sweep_processes_messages_left_pending_but_not_fresh_ones(default_queue):
    old = inbound_receive(raw=make_mail(subject="Lost task"), source="webhook")
    fresh = inbound_receive(raw=make_mail(subject="Just arrived"), source="webhook")
    InboundMessage.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(minutes=10)
    )
    assert tasks.process_pending_inbound() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == ("processed", "pending")


@pytest.mark.django_db
def test_a_missing_path_is_a_clear_error():
    with pytest.raises(CommandError, match="no such file"):
        ingest_mail("/nonexistent/mail.eml")


@pytest.mark.django_db
def test_nothing_to_do_is_a_clear_error():
    with pytest.raises(CommandError, match="--imap"):
        ingest_mail()


@pytest.mark.django_db
def test_a_directory_without_eml_files_says_so(tmp_path):
    out, err = ingest_mail(tmp_path)
    assert "no .eml files" in err
    assert "0 messages: none." in out


# --- IMAP --------------------------------------------------------------------------------


class FakeIMAPServer:
    """A mailbox: uid → [raw, seen]. Hands out clients speaking imaplib's interface."""

    def __init__(self, messages: list[bytes]):
        self.messages = {str(uid).encode(): [raw, False] for uid, raw in enumerate(messages, 1)}
        self.logins: list[tuple] = []
        self.connections: list[tuple] = []
        self.on_store = None  # called with the uid before a \Seen flag is stored
        self.refuse_store = 0  # how many STOREs to answer NO

    def client(self, host, port, *, ssl_context=None, timeout=None):
        self.connections.append((host, port, ssl_context is not None, timeout))
        return FakeIMAPClient(self)


class FakeIMAPClient:
    def __init__(self, server: FakeIMAPServer):
        self.server = server

    def login(self, user, password):
        self.server.logins.append((user, password))
        return "OK", [b"Logged in"]

    def select(self, mailbox="INBOX"):
        return "OK", [str(len(self.server.messages)).encode()]

    def uid(self, command, *args):
        messages = self.server.messages
        if command == "SEARCH":
            assert args == (None, "UNSEEN")
            return "OK", [b" ".join(uid for uid, (_, seen) in messages.items() if not seen)]
        uid = args[0]
        if command == "FETCH":
            assert args[1] == "(BODY.PEEK[])"  # PEEK: fetching must not mark it seen
            raw = messages[uid][0]
            return "OK", [(b"%s (UID %s BODY[] {%d}" % (uid, uid, len(raw)), raw), b")"]
        if command == "STORE":
            assert args[1:] == ("+FLAGS", "(\\Seen)")
            if self.server.on_store:
                self.server.on_store(uid)
            if self.server.refuse_store:
                self.server.refuse_store -= 1
                return "NO", [b"Mailbox is read-only"]
            messages[uid][1] = True
            return "OK", [b"done"]
        raise AssertionError(command)

    def close(self):
        return "OK", [b""]

    def logout(self):
        return "BYE", [b""]


@pytest.fixture
def imap(settings, monkeypatch):
    settings.IMAP_HOST = "imap.example.org"
    settings.IMAP_PORT = 993
    settings.IMAP_SSL = True
    settings.IMAP_USER = "desk"
    settings.IMAP_PASSWORD = "secret"
    settings.IMAP_FOLDER = "INBOX"
    server = FakeIMAPServer(
        [
            make_mail(subject="First by IMAP", message_id="<imap-1@example.org>"),
            make_mail(subject="Second by IMAP", message_id="<imap-2@example.org>"),
        ]
    )
    monkeypatch.setattr(imaplib, "IMAP4_SSL", server.client)
    return server


@pytest.mark.django_db(transaction=True)
def test_imap_messages_are_committed_before_they_are_marked_seen(imap, default_queue):
    seen_when = []

    def check_committed(uid):
        message = InboundMessage.objects.get(message_id=f"<imap-{uid.decode()}@example.org>")
        seen_when.append((message.source, connection.in_atomic_block))

    imap.on_store = check_committed
    results = imap_fetch()
    assert seen_when == [("imap", False), ("imap", False)]  # stored, and not in a transaction
    assert [m.status for m in results] == ["processed", "processed"]
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "First by IMAP",
        "Second by IMAP",
    ]
    assert all(seen for _, seen in imap.messages.values())
    assert imap.logins == [("desk", "secret")]
    assert imap.connections == [("imap.example.org", 993, True, 60)]
    assert imap_fetch() == []  # nothing unseen is left


@pytest.mark.django_db(transaction=True)
def test_a_message_the_server_would_not_mark_seen_is_not_duplicated(imap, default_queue):
    imap.refuse_store = 1
    with pytest.raises(imaplib.IMAP4.error, match="STORE"):
        imap_fetch()
    assert Ticket.objects.count() == 1  # the first message was processed all the same
    results = imap_fetch()  # brings the first message again, and the second
    assert [m.status for m in results] == ["ignored", "processed"]
    assert Ticket.objects.count() == 2
    assert InboundMessage.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_imap_fetch_refuses_to_run_inside_a_transaction(imap):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        imap_fetch()


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_fetches_when_imap_is_configured(imap, default_queue):
    tasks.fetch_imap()
    assert Ticket.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_command_fetches_from_imap(imap, default_queue):
    out, _ = ingest_mail("--imap")
    assert "2 messages: 2 processed." in out


@pytest.mark.django_db
def test_the_beat_task_does_nothing_without_imap(settings, monkeypatch):
    settings.IMAP_HOST = ""

    def no_server(*args, **kwargs):
        raise AssertionError("connected to IMAP without IMAP_HOST")

    monkeypatch.setattr(imaplib, "IMAP4_SSL", no_server)
    tasks.fetch_imap()


@pytest.mark.parametrize(("host", "scheduled"), [("imap.example.org", True), ("", False)])
def test_beat_fetches_imap_every_poll_interval_only_when_configured(settings, host, scheduled):
    settings.IMAP_HOST = host
    settings.IMAP_POLL_SECONDS = 45
    app = Celery("beat-schedule-test", set_as_current=False)
    _schedule_periodic_tasks(app)
    entries = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert ("helpdesk.tasks.fetch_imap" in entries) is scheduled
    if scheduled:
        entry = entries["helpdesk.tasks.fetch_imap"]
        assert entry["schedule"] == timedelta(seconds=45)
        assert entry["options"]["expires"] == 45
