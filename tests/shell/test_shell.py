"""The application shell: navigation by role, account pages, error pages, admin, demo data."""

import json
import re

import pytest
from django.apps import apps
from django.contrib import admin as django_admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import override_settings

from helpdesk.models import Queue, Ticket
from liaison.models import Bulletin
from projects.models import Project, ProjectEvent
from tests import factories

pytestmark = pytest.mark.django_db


def nav_labels(response):
    return [item["label"] for item in response.context["nav_items"]]


@pytest.mark.parametrize(
    ("who", "page", "labels"),
    [
        ("agent", "/tickets/", ["Tickets", "Liaison", "Projects", "Status"]),
        ("pm", "/projects/", ["Projects", "Status"]),
        ("stakeholder", "/status/", ["Status"]),
        ("admin", "/tickets/", ["Tickets", "Liaison", "Projects", "Status", "Admin"]),
    ],
)
def test_navigation_offers_what_the_role_may_open(request, client_for, who, page, labels):
    response = client_for(request.getfixturevalue(who)).get(page)
    assert nav_labels(response) == labels
    current = [item["label"] for item in response.context["nav_items"] if item["current"]]
    assert current == [labels[0]]


def test_every_page_carries_the_csrf_token_for_htmx(client_for, agent):
    page = client_for(agent).get("/tickets/").content.decode()
    headers = re.search(r"hx-headers='([^']+)'", page).group(1)
    token = json.loads(headers)["X-CSRFToken"]
    assert len(token) >= 32
    assert "/static/js/htmx-2.0.11.min.js" in page


def test_password_change_keeps_the_user_logged_in(client_for, agent):
    client = client_for(agent)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": factories.PASSWORD,
            "new_password1": "a much longer new passphrase",
            "new_password2": "a much longer new passphrase",
        },
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("a much longer new passphrase")
    assert client.get("/tickets/").status_code == 200


def test_password_change_errors_keep_the_form_and_name_the_problem(client_for, agent):
    response = client_for(agent).post(
        "/accounts/password_change/",
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your old password was entered incorrectly" in page
    assert "The two password fields didn’t match." in page


def test_login_failure_keeps_the_username(client, agent):
    response = client.post("/accounts/login/", {"username": "agent", "password": "nope"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="agent"' in page
    assert "Please enter a correct username and password" in page


def test_logout_ends_the_session(client_for, agent):
    client = client_for(agent)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/tickets/")["Location"].startswith("/accounts/login/")


def test_404_page_is_in_the_app_style(client_for, agent):
    response = client_for(agent).get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in page
    assert "css/bridgedesk.css" in page
    assert 'href="/"' in page or "Go to your home page" in page


def test_403_page_says_why(client_for, stakeholder):
    response = client_for(stakeholder).get("/tickets/")
    assert response.status_code == 403
    assert "The ticket views are for help desk agents." in response.content.decode()


def test_500_page_stands_alone():
    page = render_to_string("500.html")
    assert "Something went wrong on our side" in page
    assert "css/bridgedesk.css" in page


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def our_models():
    labels = ("bridgedesk", "helpdesk", "projects", "liaison")
    return [model for label in labels for model in apps.get_app_config(label).get_models()]


def test_every_model_is_in_the_admin():
    missing = [m.__name__ for m in our_models() if not django_admin.site.is_registered(m)]
    assert missing == []


def test_admin_lists_and_forms_of_every_model_load(client_for, admin, ticket, project):
    factories.MilestoneFactory(project=project)
    factories.TicketEventFactory(ticket=ticket)
    client = client_for(admin)
    for model in our_models():
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert client.get(base).status_code == 200, base
        obj = model.objects.first()
        if obj is not None:
            assert client.get(f"{base}{obj.pk}/change/").status_code == 200, base


@override_settings(DEBUG=True)
def test_seed_demo_loads_every_role_and_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    users = set(User.objects.values_list("username", flat=True))
    assert users == {"admin", "agent", "pm", "stakeholder"}
    for username in users:
        assert User.objects.get(username=username).check_password("demo")
    assert Queue.objects.count() == 2
    assert Ticket.objects.count() >= 9
    assert Project.objects.count() == 3
    vpn = Project.objects.get(key="VPN")
    # Four planned, plus the help desk's own go-live paired with the cut-over.
    assert vpn.milestones.count() == 5
    assert vpn.milestones.filter(kind="helpdesk_go_live", paired_go_live__kind="go_live").exists()
    # The bridge is live in the demo: bulletins in both queues, published events.
    assert Bulletin.objects.filter(project=vpn, active=True).count() == 2
    assert not ProjectEvent.objects.filter(published_at__isnull=True).exists()


@override_settings(DEBUG=True)
def test_every_page_shows_the_demo_data_without_errors(client):
    call_command("seed_demo")
    ticket = Ticket.objects.filter(project__isnull=False).first()
    project = Project.objects.get(key="VPN")
    pages = {
        "agent": [
            "/tickets/",
            f"/tickets/{ticket.pk}/",
            "/tickets/new/",
            "/liaison/",
            "/projects/",
            "/projects/VPN/",
            "/projects/VPN/board/",
            "/projects/VPN/timeline/",
            "/projects/workload/",
        ],
        "pm": [
            "/projects/",
            "/projects/VPN/",
            "/projects/VPN/board/",
            "/projects/VPN/risks/",
            "/projects/VPN/helpdesk/",
            "/projects/VPN/handover/",
        ],
        "stakeholder": ["/status/", f"/status/{project.slug}/"],
    }
    for username, paths in pages.items():
        client.force_login(User.objects.get(username=username))
        for path in paths:
            assert client.get(path).status_code == 200, (username, path)
    client.logout()
    assert client.get(f"/t/{ticket.secret}/").status_code == 200
    assert client.get("/submit/service-desk/").status_code == 200
    assert project.tasks.filter(forecast_finish__isnull=False).exists()
