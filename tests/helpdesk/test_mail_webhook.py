"""The inbound webhook, through the real URL and Anymail's real views: Mailgun's raw-MIME
route (`/inbound/mailgun/inbound_mime/`, basic auth + Mailgun's signature) and, to show
the receiver does not care which provider, Postmark with the raw e-mail included."""

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError

from helpdesk.models import InboundMessage, Ticket
from helpdesk.tasks import process_inbound
from tests.helpdesk.test_mail_parsing import make_mail

pytestmark = pytest.mark.django_db

TESTDATA = Path("/work/shared/testdata/email/django-helpdesk")
MAILGUN_URL = "/inbound/mailgun/inbound_mime/"
POSTMARK_URL = "/inbound/postmark/inbound/"
SECRET = "mailgun:correct-horse-battery"
SIGNING_KEY = "key-for-tests-only"
INBOX = "help@bridgedesk.example"


@pytest.fixture(autouse=True)
def webhook_settings(settings, tmp_path):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def inbox(queue):
    queue.inbound_address = INBOX
    queue.save(update_fields=["inbound_address"])
    return queue


def basic_auth(credentials: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def mailgun_form(raw: bytes, *, recipient: str = INBOX, key: str = SIGNING_KEY) -> dict:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "body-mime": raw.decode("utf-8"),
        "recipient": recipient,
        "sender": "caller@example.org",
        "timestamp": timestamp,
        "token": token,
        "signature": signature.hexdigest(),
    }


def post_mailgun(client, raw: bytes, *, credentials: str | None = SECRET, **form):
    headers = basic_auth(credentials) if credentials else {}
    return client.post(MAILGUN_URL, mailgun_form(raw, **form), **headers)


def test_a_posted_message_is_stored_then_processed_by_the_task(
    client, inbox, django_capture_on_commit_callbacks
):
    raw = make_mail(to="alias@example.org")  # routed by the envelope recipient
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_mailgun(client, raw)
    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert bytes(message.raw) == raw
    assert message.source == InboundMessage.Source.WEBHOOK
    assert message.recipient == INBOX
    assert message.status == InboundMessage.Status.PENDING
    assert len(callbacks) == 1  # process_inbound, enqueued once the row is committed

    process_inbound(message.pk)  # what the worker does
    message.refresh_from_db()
    assert message.status == InboundMessage.Status.PROCESSED
    assert message.ticket.queue == inbox
    assert message.ticket.subject == "Printer on fire"


def test_without_the_secret_nothing_is_stored(client, inbox):
    response = post_mailgun(client, make_mail(), credentials=None)
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_with_a_wrong_secret_nothing_is_stored(client, inbox):
    response = post_mailgun(client, make_mail(), credentials="mailgun:guess")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_with_a_forged_mailgun_signature_nothing_is_stored(client, inbox):
    response = post_mailgun(client, make_mail(), key="not-the-signing-key")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_a_provider_retry_of_the_same_message_makes_one_ticket(client, inbox):
    raw = make_mail(message_id="<retried@example.org>")
    for _ in range(2):
        assert post_mailgun(client, raw).status_code == 200
    for message in InboundMessage.objects.order_by("pk"):
        process_inbound(message.pk)
    assert Ticket.objects.count() == 1
    assert sorted(InboundMessage.objects.values_list("status", flat=True)) == [
        "ignored",
        "processed",
    ]


def test_when_the_broker_is_down_the_message_is_processed_at_once(
    client, inbox, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis: Connection refused")

    monkeypatch.setattr(process_inbound, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_mailgun(client, make_mail()).status_code == 200
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.PROCESSED
    assert message.ticket is not None


def test_every_testdata_message_posted_to_the_webhook_becomes_a_ticket(client, inbox, settings):
    settings.INBOUND_DEFAULT_QUEUE = inbox.slug
    paths = sorted(TESTDATA.glob("*.eml"))
    for path in paths:
        raw = path.read_bytes()
        assert post_mailgun(client, raw, recipient="desk@example.org").status_code == 200
    for message in InboundMessage.objects.order_by("pk"):
        process_inbound(message.pk)
    statuses = list(InboundMessage.objects.values_list("status", flat=True))
    assert statuses == ["processed"] * len(paths)
    assert Ticket.objects.count() == len(paths)
    assert Ticket.objects.filter(subject="Český test").exists()


def test_postmark_with_the_raw_email_included_works_the_same(
    client, inbox, django_capture_on_commit_callbacks
):
    raw = make_mail(subject="Via Postmark")
    payload = {
        "RawEmail": raw.decode("utf-8"),
        "OriginalRecipient": INBOX,
        "Headers": [{"Name": "Return-Path", "Value": "<caller@example.org>"}],
    }
    with django_capture_on_commit_callbacks():
        response = client.post(
            POSTMARK_URL, json.dumps(payload), content_type="application/json", **basic_auth(SECRET)
        )
    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert bytes(message.raw) == raw
    process_inbound(message.pk)
    message.refresh_from_db()
    assert message.ticket.subject == "Via Postmark"
