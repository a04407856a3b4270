"""Outgoing webhooks: signed JSON to a customer's URL, retried with backoff, never to an
address inside our network.

Only the remote side is replaced: DNS answers come from a table (`names`), and the socket
our HTTP client opens to the public address it checked is connected to a small HTTP server
in this process that plays the customer's receiver. Everything between (payload, signing,
the SSRF check, connecting to the checked address, status handling) is the real code.
"""

import hashlib
import hmac
import json
import socket
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.util.connection
from django.core.exceptions import ValidationError
from django.utils import timezone

from helpdesk import services as desk
from helpdesk.models import Ticket
from liaison import notify, publish, webhooks
from liaison.models import SentNotice, Webhook, WebhookDelivery
from projects import services as plan
from projects.models import Project
from tests import factories

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"
PUBLIC_IP6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
HOOK_URL = "http://hooks.customer.example/bridgedesk?tenant=7"
SECRET = "s3cret-shared-with-the-receiver"
DNS = {
    "hooks.customer.example": [PUBLIC_IP],
    "v6.customer.example": [PUBLIC_IP6],
    "intranet.customer.example": ["10.0.0.5"],
    "metadata.customer.example": ["169.254.169.254"],
    "mixed.customer.example": [PUBLIC_IP, "192.168.1.20"],
    "localhost": ["127.0.0.1", "::1"],
}


class Receiver:
    """The customer's webhook endpoint: records each request, answers from `statuses`
    (then 200), optionally with extra headers."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.headers = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                answer = b"nope" if status >= 400 else b"ok"
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def names(monkeypatch):
    """DNS as the world answers it for this test (editable: `names[host] = [...]`)."""
    table = {host: list(addresses) for host, addresses in DNS.items()}

    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    monkeypatch.setattr(webhooks, "resolve", resolve)
    return table


@pytest.fixture
def receiver(monkeypatch, names):
    """The customer's server at PUBLIC_IP (any port), reachable only through the address
    our client checked; `receiver.connections` lists every address the client dialled."""
    server = Receiver()
    server.connections = []
    real_create_connection = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        server.connections.append(address)
        if address[0] in (PUBLIC_IP, PUBLIC_IP6):
            return real_create_connection(("127.0.0.1", server.port), *args, **kwargs)
        raise ConnectionRefusedError(f"test network: nothing at {address}")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    yield server
    server.stop()


@pytest.fixture
def queued(monkeypatch):
    """Tasks enqueued by the code under test, recorded instead of sent to the broker."""
    tasks = []

    def fake_enqueue(task, *args, **kwargs):
        tasks.append((task.name, args))
        return True

    for target in ("config.queueing.enqueue", "liaison.notify.enqueue", "liaison.webhooks.enqueue"):
        monkeypatch.setattr(target, fake_enqueue)
    return tasks


@pytest.fixture
def scheduled(monkeypatch):
    """Retries the delivery task schedules for itself: (delivery id, wait)."""
    waits = []
    monkeypatch.setattr(webhooks, "_schedule", lambda pk, wait: waits.append((pk, wait)))
    return waits


def hook(url=HOOK_URL, events=None, project=None, **fields):
    return Webhook.objects.create(
        url=url,
        secret=SECRET,
        events=events or list(Webhook.Event.values),
        project=project,
        **fields,
    )


def a_delivery(webhook, key="test:1", event="status_update.published"):
    payload = webhooks.envelope(event, key, timezone.now(), {"hello": "world"})
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event=event,
        source_key=key,
        payload=payload,
        next_attempt_at=timezone.now(),
    )


def make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


# ---------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.1/",  # multicast
        "http://240.0.0.1/",  # reserved
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[ff02::1]/hook",
        "http://[64:ff9b::a00:1]/hook",  # NAT64 for 10.0.0.1
        "http://[2002:7f00:1::]/hook",  # 6to4 for 127.0.0.1
        "http://localhost/hook",
        "http://intranet.customer.example/hook",
        "http://metadata.customer.example/hook",
        "http://mixed.customer.example/hook",  # one public address is not enough
        "http://no-such-host.customer.example/hook",
        "ftp://hooks.customer.example/hook",
        "file:///etc/passwd",
        "gopher://hooks.customer.example/",
        "javascript:alert(1)",
        "hooks.customer.example/hook",
        "http:///hook",
        "http://user:password@hooks.customer.example/hook",
        "http://hooks.customer.example:99999/hook",
    ],
)
def test_a_target_that_is_not_a_public_http_url_is_refused(names, url):
    with pytest.raises(ValidationError):
        webhooks.validate_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [HOOK_URL, "https://hooks.customer.example:8443/x", f"https://{PUBLIC_IP}/x",
     f"https://[{PUBLIC_IP6}]/x", "https://v6.customer.example/x"],
)  # fmt: skip
def test_a_public_http_target_is_accepted(names, url):
    target = webhooks.check_target(url)
    assert target.addresses and all(not webhooks.refused_address(a) for a in target.addresses)


def test_the_refusal_says_why(names):
    with pytest.raises(ValidationError) as refused:
        webhooks.validate_webhook_url("http://intranet.customer.example/hook")
    assert "a private address (10.0.0.5)" in refused.value.messages[0]


def test_the_client_connects_to_the_checked_address_and_verifies_the_name(names):
    target = webhooks.check_target("https://hooks.customer.example/x")
    pool = webhooks.connection_pool(target, PUBLIC_IP)
    assert pool.host == PUBLIC_IP
    assert pool.conn_kw["server_hostname"] == "hooks.customer.example"
    assert pool.assert_hostname == "hooks.customer.example"
    assert target.host_header == "hooks.customer.example"
    assert webhooks.check_target("http://hooks.customer.example:8080/").host_header == (
        "hooks.customer.example:8080"
    )


# ---------------------------------------------------------------------------- sending


def test_a_delivery_is_signed_json_that_the_receiver_can_verify(receiver, scheduled):
    delivery = a_delivery(hook())
    assert webhooks.deliver.run(delivery.pk) == "delivered"

    [request] = receiver.requests
    # The client dialled the address it checked, and spoke to the host by name.
    assert receiver.connections == [(PUBLIC_IP, 80)]
    assert request["path"] == "/bridgedesk?tenant=7"
    headers = request["headers"]
    assert headers["Host"] == "hooks.customer.example"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Bridgedesk-Event"] == "status_update.published"
    assert headers["X-Bridgedesk-Delivery"] == str(delivery.pk)
    assert abs(int(headers["X-Bridgedesk-Timestamp"]) - timezone.now().timestamp()) < 60
    # What a receiver does: HMAC the raw body with the shared secret, compare in constant time.
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Bridgedesk-Signature"], expected)
    forged = hmac.new(b"wrong secret", request["body"], hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(headers["X-Bridgedesk-Signature"], "sha256=" + forged)
    body = json.loads(request["body"])
    assert set(body) == {"event", "id", "created_at", "data"}
    assert body["event"] == "status_update.published" and body["id"] == "test:1"
    assert body["data"] == {"hello": "world"}

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 1 and delivery.response_code == 200
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert scheduled == []
    # Delivered is final: another run of the task sends nothing.
    assert webhooks.deliver.run(delivery.pk) is None
    assert len(receiver.requests) == 1


def test_a_name_that_now_points_inside_is_refused_at_send_time(receiver, names, scheduled):
    webhook = hook()  # saved while the name pointed at a public address
    names["hooks.customer.example"] = ["127.0.0.1"]  # DNS rebinding
    delivery = a_delivery(webhook)
    assert webhooks.deliver.run(delivery.pk) == "retry"
    assert receiver.connections == [] and receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error.startswith("Refused:") and "loopback" in delivery.last_error


def test_failures_are_retried_with_exponential_backoff_then_given_up(receiver, scheduled):
    receiver.statuses = [500] * webhooks.MAX_ATTEMPTS
    delivery = a_delivery(hook())
    waits = []
    for attempt in range(1, webhooks.MAX_ATTEMPTS):
        before = timezone.now()
        assert webhooks.deliver.run(delivery.pk) == "retry"
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.status == WebhookDelivery.Status.PENDING
        assert delivery.response_code == 500 and delivery.last_error == "HTTP 500: nope"
        waits.append((delivery.next_attempt_at - before).total_seconds())
        # Not due yet: a redelivered task or the sweep sends nothing early.
        assert webhooks.deliver.run(delivery.pk) is None
        make_due(delivery)
    assert webhooks.deliver.run(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == webhooks.MAX_ATTEMPTS and delivery.next_attempt_at is None
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS

    expected = [min(60 * 3**n, 6 * 3600) for n in range(webhooks.MAX_ATTEMPTS - 1)]
    for wait, nominal in zip(waits, expected, strict=True):
        assert nominal * 0.89 <= wait <= nominal * 1.11 + 1
    # Each retry was also handed to Celery as a task due after the same wait.
    for (pk, wait), nominal in zip(scheduled, expected, strict=True):
        assert pk == delivery.pk
        assert nominal * 0.9 <= wait.total_seconds() <= nominal * 1.1
    # The same bytes every time: the receiver can drop the duplicates by id.
    assert len({r["body"] for r in receiver.requests}) == 1


def test_a_receiver_that_recovers_gets_the_delivery(receiver, scheduled):
    receiver.statuses = [503]
    delivery = a_delivery(hook())
    assert webhooks.deliver.run(delivery.pk) == "retry"
    make_due(delivery)
    assert webhooks.deliver.run(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.last_error == ""


def test_a_refused_connection_is_a_failed_attempt(receiver, names, scheduled):
    names["hooks.customer.example"] = ["93.184.215.99"]  # public, but nothing listens
    delivery = a_delivery(hook())
    assert webhooks.deliver.run(delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert "Could not connect to 93.184.215.99" in delivery.last_error
    assert delivery.response_code is None


def test_redirects_are_not_followed(receiver, scheduled):
    receiver.statuses = [302]
    receiver.headers = {"Location": "http://127.0.0.1/admin"}
    delivery = a_delivery(hook())
    assert webhooks.deliver.run(delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.response_code == 302 and "Redirects are not followed" in delivery.last_error
    assert receiver.connections == [(PUBLIC_IP, 80)]


def test_two_workers_never_send_one_delivery_twice(receiver):
    delivery = a_delivery(hook())
    assert webhooks._claim(delivery.pk) is True
    assert webhooks._claim(delivery.pk) is False  # leased to the first
    assert webhooks.deliver.run(delivery.pk) is None
    assert receiver.requests == []


def test_a_switched_off_webhook_fails_its_pending_deliveries(receiver, scheduled):
    webhook = hook()
    delivery = a_delivery(webhook)
    Webhook.objects.filter(pk=webhook.pk).update(active=False)
    assert webhooks.deliver.run(delivery.pk) == "failed"
    assert receiver.requests == []


def test_the_sweep_sends_due_deliveries_whose_task_was_lost(queued):
    webhook = hook()
    lost = a_delivery(webhook, key="lost")
    fresh = a_delivery(webhook, key="fresh")
    later = a_delivery(webhook, key="later")
    done = a_delivery(webhook, key="done")
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(
        status="delivered", next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert webhooks.sweep_due_deliveries.run() == 1
    assert queued == [("liaison.webhooks.deliver", (lost.pk,))]
    assert fresh.pk  # left to the task enqueued with it


def test_retrying_a_failed_delivery_gives_it_fresh_attempts(
    queued, django_capture_on_commit_callbacks
):
    delivery = a_delivery(hook())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.delivery_retry(delivery=delivery) is True
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert queued == [("liaison.webhooks.deliver", (delivery.pk,))]


# ---------------------------------------------------------------------------- fan-out


def apply_events(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish.publish_project(project.pk)


def deliveries(**filters):
    return sorted(
        WebhookDelivery.objects.filter(**filters).values_list("webhook_id", "event"),
    )


def test_a_milestone_move_reaches_global_and_project_hooks_that_asked(
    project, pm, queued, django_capture_on_commit_callbacks
):
    everything = hook()
    own = hook(url="https://hooks.customer.example/vpn", project=project,
               events=["milestone.rescheduled"])  # fmt: skip
    hook(url="https://hooks.customer.example/other", project=factories.ProjectFactory())
    hook(url="https://hooks.customer.example/tickets", events=["ticket.created"])
    hook(url="https://hooks.customer.example/off", active=False)
    milestone = plan.milestone_create(project=project, name="Cutover", target_date=date(2027, 3, 1))
    apply_events(project, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 0  # creating a milestone is no webhook event
    plan.milestone_reschedule(
        milestone=milestone, target_date=date(2027, 3, 15), reason="Vendor delay", actor=pm
    )
    apply_events(project, django_capture_on_commit_callbacks)

    assert deliveries() == sorted(
        [(everything.pk, "milestone.rescheduled"), (own.pk, "milestone.rescheduled")]
    )
    payload = WebhookDelivery.objects.filter(webhook=own).get().payload
    event = project.events.get(kind="milestone_rescheduled")
    assert payload["id"] == f"project-event:{event.pk}:milestone.rescheduled"
    data = payload["data"]
    assert data["project"]["key"] == "VPN" and data["milestone"]["name"] == "Cutover"
    assert (data["old_date"], data["new_date"], data["days"]) == ("2027-03-01", "2027-03-15", 14)
    assert data["reason"] == "Vendor delay" and data["milestone"]["kind"] == "regular"
    assert len([name for name, _ in queued if name == "liaison.webhooks.deliver"]) == 2
    # The receiver runs again (a replayed signal, the sweep): nothing new.
    notify.on_event_applied(sender=None, event=event)
    SentNotice.objects.filter(key=notify.webhooks_done_key(event.pk)).delete()
    notify.project_event_webhooks(event)
    assert WebhookDelivery.objects.count() == 2


def test_a_status_update_that_changes_health_is_two_events(
    project, pm, queued, django_capture_on_commit_callbacks
):
    webhook = hook()
    plan.status_update_publish(project=project, health="at_risk", summary="Late.", actor=pm)
    plan.status_update_publish(project=project, health="at_risk", summary="Still.", actor=pm)
    apply_events(project, django_capture_on_commit_callbacks)
    assert deliveries() == [
        (webhook.pk, "project.health_changed"),
        (webhook.pk, "status_update.published"),
        (webhook.pk, "status_update.published"),
    ]
    changed = WebhookDelivery.objects.get(event="project.health_changed").payload["data"]
    assert (changed["old_health"], changed["new_health"], changed["cause"]) == (
        "on_track", "at_risk", "status_update",
    )  # fmt: skip
    summaries = {
        d.payload["data"]["status_update"]["summary"]
        for d in WebhookDelivery.objects.filter(event="status_update.published")
    }
    assert summaries == {"Late.", "Still."}


def test_a_health_edit_on_the_project_is_a_health_change(
    project, pm, queued, django_capture_on_commit_callbacks
):
    webhook = hook(events=["project.health_changed"])
    plan.project_update(project=project, actor=pm, health=Project.Health.OFF_TRACK)
    plan.project_update(project=Project.objects.get(pk=project.pk), actor=pm, name="VPN 2")
    apply_events(project, django_capture_on_commit_callbacks)
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.webhook == webhook
    assert delivery.payload["data"]["new_health"] == "off_track"
    assert delivery.payload["data"]["cause"] == "project"


def test_tickets_created_and_resolved_reach_their_hooks(
    queue, agent, queued, django_capture_on_commit_callbacks
):
    webhook = hook(events=["ticket.created", "ticket.resolved"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = desk.ticket_create(
            queue=queue,
            subject="Printer on fire",
            requester_email="caller@example.org",
            description="Secret details of the caller",
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = desk.ticket_update(
            ticket=ticket, actor=agent, version=None, status=Ticket.Status.RESOLVED
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = desk.ticket_update(ticket=ticket, actor=agent, version=None, status="open")
        ticket = desk.ticket_update(ticket=ticket, actor=agent, version=None, status="resolved")
    assert deliveries() == [
        (webhook.pk, "ticket.created"),
        (webhook.pk, "ticket.resolved"),
        (webhook.pk, "ticket.resolved"),  # resolved again after a reopen: its own event
    ]
    created = WebhookDelivery.objects.get(event="ticket.created").payload
    assert created["data"]["ticket"]["reference"] == ticket.reference
    assert created["data"]["ticket"]["subject"] == "Printer on fire"
    text = json.dumps(created)
    assert "Secret details" not in text and "caller@example.org" not in text


def test_a_project_hook_hears_only_of_its_own_tickets(
    queue, project, queued, django_capture_on_commit_callbacks
):
    own = hook(project=project, events=["ticket.resolved"])
    linked = factories.TicketFactory(queue=queue, project=project)
    other = factories.TicketFactory(queue=queue)
    for ticket in (linked, other):
        with django_capture_on_commit_callbacks(execute=True):
            desk.ticket_update(ticket=ticket, actor=None, version=None, status="resolved")
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.webhook == own and delivery.payload["data"]["ticket"]["id"] == linked.pk


def test_the_sweep_fans_out_an_event_whose_receiver_never_ran(project, pm, queued):
    webhook = hook()
    plan.status_update_publish(project=project, health="on_track", summary="Fine.", actor=pm)
    publish.publish_project(project.pk)  # no on-commit: the receiver never ran
    from projects.models import ProjectEvent

    ProjectEvent.objects.update(published_at=timezone.now() - timedelta(minutes=10))
    assert WebhookDelivery.objects.count() == 0
    notify.sweep_notifications.run()
    assert deliveries() == [(webhook.pk, "status_update.published")]
