"""Admin for the bridge: every model's pages load, webhook URLs pass the SSRF guard, the
delivery log is read-only with a retry action."""

import socket
from datetime import date

import pytest
from django.apps import apps
from django.contrib import admin as django_admin
from django.utils import timezone

from liaison import webhooks
from liaison.models import (
    Bulletin,
    HandoverCriterion,
    HandoverPlan,
    ProjectDesk,
    Promise,
    Question,
    SentNotice,
    StatusLink,
    Subscription,
    Webhook,
    WebhookDelivery,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def names(monkeypatch):
    table = {"hooks.customer.example": ["93.184.215.14"], "intranet.example": ["10.0.0.9"]}

    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    monkeypatch.setattr(webhooks, "resolve", resolve)
    return table


@pytest.fixture
def one_of_each(project, queue, ticket, agent, admin):
    milestone = factories.MilestoneFactory(project=project)
    ProjectDesk.objects.create(project=project, tell_callers="Soon.")
    Bulletin.objects.create(queue=queue, project=project, title="VPN", health="on_track",
                            body="Soon.", updated_at=timezone.now())  # fmt: skip
    Promise.objects.create(ticket=ticket, milestone=milestone, promised_date=date(2027, 3, 1),
                           made_by=agent)  # fmt: skip
    Question.objects.create(ticket=ticket, project=project, text="When?", asked_by=agent,
                            due_at=timezone.now())  # fmt: skip
    plan = HandoverPlan.objects.create(project=project, support_queue=queue)
    HandoverCriterion.objects.create(plan=plan, name="Runbook written")
    StatusLink.objects.create(project=project, label="Finance leads", created_by=admin)
    Subscription.objects.create(project=project, email="reader@example.org")
    webhook = Webhook.objects.create(url="https://hooks.customer.example/x", secret="s",
                                     events=["ticket.created"])  # fmt: skip
    WebhookDelivery.objects.create(webhook=webhook, event="ticket.created", source_key="t:1",
                                   payload={"event": "ticket.created"}, status="failed",
                                   attempts=8, last_error="HTTP 500")  # fmt: skip
    SentNotice.objects.create(key="digest:1:2026-W47")


def test_every_liaison_model_has_admin_pages_that_load(client_for, admin, one_of_each):
    client = client_for(admin)
    for model in apps.get_app_config("liaison").get_models():
        assert django_admin.site.is_registered(model), model.__name__
        model_admin = django_admin.site._registry[model]
        base = f"/admin/liaison/{model._meta.model_name}/"
        assert client.get(base).status_code == 200, base
        assert client.get(f"{base}?q=x").status_code == 200, base
        obj = model.objects.first()
        assert obj is not None, model.__name__
        assert client.get(f"{base}{obj.pk}/change/").status_code == 200, base
        add = client.get(f"{base}add/").status_code
        can_add = model_admin.has_add_permission(type("R", (), {"user": admin})())
        assert add == (200 if can_add else 403), base


def test_the_admin_is_for_admins_only(client_for, agent, one_of_each):
    response = client_for(agent).get("/admin/liaison/webhook/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_delivery_log_and_what_the_system_writes_are_read_only(client_for, admin, one_of_each):
    client = client_for(admin)
    delivery = WebhookDelivery.objects.get()
    page = client.get(f"/admin/liaison/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "HTTP 500" in page and 'name="_save"' not in page
    bulletin = Bulletin.objects.get()
    response = client.post(f"/admin/liaison/bulletin/{bulletin.pk}/change/", {"title": "Hacked"})
    assert response.status_code == 403
    assert Bulletin.objects.get().title == "VPN"


def test_an_admin_retries_a_failed_delivery(
    client_for, admin, one_of_each, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("liaison.webhooks.enqueue", lambda task, *args: queued.append(args))
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/admin/liaison/webhookdelivery/",
            {"action": "retry", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "1 delivery(ies) queued again" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert queued == [(delivery.pk,)]


def webhook_form(url, **extra):
    return {"url": url, "events": ["milestone.rescheduled", "ticket.created"], "secret": "",
            "active": "on", **extra}  # fmt: skip


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://169.254.169.254/latest/", "http://[::1]/x",
     "http://[::ffff:127.0.0.1]/x", "https://intranet.example/x", "ftp://hooks.customer.example/"],
)  # fmt: skip
def test_an_admin_cannot_save_a_webhook_to_an_inside_address(client_for, admin, names, url):
    response = client_for(admin).post("/admin/liaison/webhook/add/", webhook_form(url))
    assert response.status_code == 200
    page = response.content.decode()
    assert "errorlist" in page
    assert not Webhook.objects.exists()


def test_an_admin_saves_a_webhook_with_a_generated_secret(client_for, admin, names):
    response = client_for(admin).post(
        "/admin/liaison/webhook/add/", webhook_form("https://hooks.customer.example/bd")
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.events == ["milestone.rescheduled", "ticket.created"]
    assert len(webhook.secret) >= 40 and webhook.created_by == admin


def test_an_admin_revokes_a_status_link(client_for, admin, one_of_each):
    link = StatusLink.objects.get()
    client_for(admin).post(
        "/admin/liaison/statuslink/", {"action": "revoke", "_selected_action": [link.pk]}
    )
    link.refresh_from_db()
    assert link.revoked_at is not None


def test_consent_is_never_typed_in_by_an_admin(client_for, admin, one_of_each):
    subscription = Subscription.objects.get()
    page = client_for(admin).get(f"/admin/liaison/subscription/{subscription.pk}/change/")
    assert 'name="confirmed_at' not in page.content.decode()
