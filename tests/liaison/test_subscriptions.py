"""Following a status page by e-mail: double opt-in, signed links, the neutral answer, the
rate limit, who may subscribe, and the mail subscribers get about plan changes."""

import re
from datetime import date, timedelta

import pytest
from django.core import mail as django_mail
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from helpdesk import ratelimit
from liaison import notify, publish, subscriptions
from liaison.models import SentNotice, Subscription
from projects import services as plan
from projects.models import Milestone, Project, ProjectEvent
from tests import factories

pytestmark = pytest.mark.django_db

CLIENT_IP = "203.0.113.77"
GO_LIVE = date(2027, 3, 1)


@pytest.fixture
def queued(monkeypatch):
    """Tasks enqueued by the code under test, recorded instead of sent to the broker;
    `queued.run()` runs them here, as a worker would."""

    class Queue(list):
        def run(self):
            ran = 0
            while self:
                task, args = self.pop(0)
                task.run(*args)
                ran += 1
            return ran

    tasks = Queue()

    def fake_enqueue(task, *args, **kwargs):
        tasks.append((task, args))
        return True

    for target in ("config.queueing.enqueue", "liaison.notify.enqueue", "liaison.webhooks.enqueue"):
        monkeypatch.setattr(target, fake_enqueue)
    return tasks


@pytest.fixture
def public(project):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PUBLIC)
    project.refresh_from_db()
    return project


@pytest.fixture
def limiter(settings, monkeypatch):
    """A fresh rate-limit window for CLIENT_IP, with the clock pinned mid-window."""
    settings.SUBSCRIBE_RATE_LIMIT = 3
    settings.SUBSCRIBE_RATE_WINDOW = 600
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_800_000_300.0)
    from liaison.views.subscribe import subscribe_limit

    subscribe_limit().reset(CLIENT_IP)
    yield
    subscribe_limit().reset(CLIENT_IP)


def post_subscribe(client, project, email, **extra):
    return client.post(
        f"/status/{project.slug}/subscribe/", {"email": email}, REMOTE_ADDR=CLIENT_IP, **extra
    )


def subscribe_and_send(client, project, email, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_subscribe(client, project, email)
    queued.run()
    return response


def link_in(message, marker: str) -> str:
    line = next(line for line in message.body.splitlines() if marker in line)
    return line[line.index("http") :].strip().removeprefix("http://127.0.0.1:8000")


def without_csrf_tokens(page: str) -> str:
    """The page as an observer compares it: CSRF tokens are masked anew on every render."""
    page = re.sub(r'"X-CSRFToken": "[^"]+"', "", page)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def confirmed(project, email):
    return Subscription.objects.create(project=project, email=email, confirmed_at=timezone.now())


# ---------------------------------------------------------------------------- subscribing


def test_anyone_can_open_the_subscribe_form_of_a_public_page(client, public):
    response = client.get(f"/status/{public.slug}/subscribe/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="email"' in page and "csrfmiddlewaretoken" in page
    assert response["Cache-Control"] == "private, no-store"


def test_a_new_address_gets_one_confirmation_and_nothing_is_active_yet(
    client, public, queued, mailoutbox, django_capture_on_commit_callbacks, limiter
):
    response = subscribe_and_send(
        client, public, "  Reader@Example.org ", queued, django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    assert response["Location"] == f"/status/{public.slug}/subscribe/?sent=1"
    subscription = Subscription.objects.get(project=public)
    assert subscription.email == "reader@example.org"
    assert not subscription.active
    [message] = mailoutbox
    assert message.to == ["reader@example.org"]
    assert "Confirm" in message.subject and public.name in message.subject
    assert "/subscribe/confirm/" in message.body
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    sent_page = client.get(response["Location"]).content.decode()
    assert "Check your inbox" in sent_page


def test_the_answer_never_reveals_whether_an_address_is_subscribed(
    client, public, queued, mailoutbox, django_capture_on_commit_callbacks, limiter
):
    confirmed(public, "known@example.org")
    Subscription.objects.create(project=public, email="pending@example.org")
    answers = []
    for email in ("known@example.org", "pending@example.org", "stranger@example.org"):
        before = len(mailoutbox)
        response = subscribe_and_send(
            client, public, email, queued, django_capture_on_commit_callbacks
        )
        answers.append(
            (
                response.status_code,
                response["Location"],
                without_csrf_tokens(client.get(response["Location"]).content.decode()),
                len(mailoutbox) - before,
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][3] == 1  # one mail to the address whatever its history
    already, pending, stranger = mailoutbox
    # The known address is told it already follows, with its unsubscribe link, and no
    # confirmation link that could be mistaken for a new subscription.
    assert "already" in already.body and "/unsubscribe/" in already.body
    assert "/subscribe/confirm/" not in already.body
    assert "/subscribe/confirm/" in pending.body and "/subscribe/confirm/" in stranger.body
    assert Subscription.objects.get(email="known@example.org").active


def test_repeated_requests_send_one_mail_per_quarter_hour(
    client, public, queued, mailoutbox, django_capture_on_commit_callbacks, limiter
):
    for _ in range(3):
        subscribe_and_send(
            client, public, "reader@example.org", queued, django_capture_on_commit_callbacks
        )
    assert len(mailoutbox) == 1
    assert Subscription.objects.filter(project=public).count() == 1


def test_a_bad_address_is_refused_with_what_was_typed_kept(client, public, queued, limiter):
    response = post_subscribe(client, public, "not an address")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="not an address"' in page and "valid email" in page
    assert not Subscription.objects.exists() and queued == []


def test_the_spam_trap_looks_done_and_does_nothing(client, public, queued, limiter):
    response = client.post(
        f"/status/{public.slug}/subscribe/",
        {"email": "robot@example.org", "website": "http://spam.example"},
        REMOTE_ADDR=CLIENT_IP,
    )
    assert response.status_code == 302 and response["Location"].endswith("?sent=1")
    assert not Subscription.objects.exists() and queued == []


def test_the_subscribe_endpoint_is_rate_limited_per_client_and_keeps_the_address(
    client, public, queued, limiter
):
    for n in range(3):
        assert post_subscribe(client, public, f"reader{n}@example.org").status_code == 302
    response = post_subscribe(client, public, "fourth@example.org")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert 'value="fourth@example.org"' in page
    assert "Please wait about" in page
    assert not Subscription.objects.filter(email="fourth@example.org").exists()
    # Another client is not held back by this one.
    other = client.post(
        f"/status/{public.slug}/subscribe/", {"email": "x@example.org"}, REMOTE_ADDR="198.51.100.4"
    )
    assert other.status_code == 302


def test_the_subscribe_form_requires_the_csrf_token(public, limiter):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        f"/status/{public.slug}/subscribe/", {"email": "a@example.org"}, REMOTE_ADDR=CLIENT_IP
    )
    assert response.status_code == 403
    assert not Subscription.objects.exists()


# ---------------------------------------------------------------------------- who may subscribe


def test_a_private_page_takes_no_subscribers_even_from_staff(client_for, project, agent, limiter):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PRIVATE)
    client = client_for(agent)
    assert client.get(f"/status/{project.slug}/subscribe/").status_code == 404
    assert post_subscribe(client, project, agent.email).status_code == 404
    assert not Subscription.objects.exists()


def test_an_anonymous_visitor_of_a_hidden_page_is_asked_to_log_in_whether_or_not_it_exists(
    client, project, limiter
):
    # The VPN page is for stakeholders; "nothing-here" does not exist: the same answer.
    for slug in (project.slug, "nothing-here"):
        response = client.post(
            f"/status/{slug}/subscribe/", {"email": "a@example.org"}, REMOTE_ADDR=CLIENT_IP
        )
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    assert not Subscription.objects.exists()


def test_a_stakeholder_subscribes_their_own_address_to_a_stakeholders_page(
    client_for,
    project,
    stakeholder,
    queued,
    mailoutbox,
    django_capture_on_commit_callbacks,
    limiter,
):
    client = client_for(stakeholder)
    form = client.get(f"/status/{project.slug}/subscribe/").content.decode()
    assert f'value="{stakeholder.email}"' in form
    response = subscribe_and_send(
        client, project, stakeholder.email.upper(), queued, django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    assert Subscription.objects.get().email == stakeholder.email.lower()
    assert len(mailoutbox) == 1


def test_a_stakeholder_cannot_send_a_stakeholders_page_to_another_address(
    client_for, project, stakeholder, queued, limiter
):
    response = post_subscribe(client_for(stakeholder), project, "private@elsewhere.example")
    assert response.status_code == 403
    page = response.content.decode()
    assert "your account" in page and 'value="private@elsewhere.example"' in page
    assert not Subscription.objects.exists() and queued == []


def test_staff_who_are_not_stakeholders_cannot_subscribe_to_a_stakeholders_page(
    client_for, project, agent, limiter
):
    response = post_subscribe(client_for(agent), project, agent.email)
    assert response.status_code == 403
    assert "stakeholders only" in response.content.decode()


def test_a_stakeholder_of_another_project_gets_404(client_for, project, limiter):
    other = factories.StakeholderFactory(username="other-stakeholder")
    factories.ProjectFactory(stakeholders=[other])
    response = post_subscribe(client_for(other), project, other.email)
    assert response.status_code == 404


def test_the_status_page_box_asks_signed_link_visitors_to_sign_in(project, public, rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.STAKEHOLDERS)
    project.refresh_from_db()
    box = render_to_string(
        "liaison/status/_subscribe.html", {"project": project, "user": request.user}, request
    )
    assert "Sign in to subscribe" in box and 'name="email"' not in box
    project.visibility = Project.Visibility.PUBLIC
    box = render_to_string(
        "liaison/status/_subscribe.html", {"project": project, "user": request.user}, request
    )
    assert 'name="email"' in box and "Sign in" not in box
    project.visibility = Project.Visibility.PRIVATE
    assert render_to_string("liaison/status/_subscribe.html", {"project": project}).strip() == ""


@pytest.mark.parametrize(
    ("visibility", "who", "expected"),
    [
        ("public", None, 200),
        ("public", "outsider_stakeholder", 200),
        ("stakeholders", None, 302),
        ("stakeholders", "stakeholder", 200),
        ("stakeholders", "outsider_stakeholder", 404),
        ("stakeholders", "agent", 200),  # may read it; the POST says why they cannot subscribe
        ("private", None, 302),
        ("private", "stakeholder", 404),
        ("private", "agent", 404),
    ],
)
def test_who_gets_the_subscribe_page(
    client_for,
    project,
    stakeholder,
    agent,
    visibility,
    who,
    expected,
    django_assert_max_num_queries,
):
    Project.objects.filter(pk=project.pk).update(visibility=visibility)
    users = {
        None: None,
        "stakeholder": stakeholder,
        "agent": agent,
        "outsider_stakeholder": factories.StakeholderFactory(username="elsewhere"),
    }
    client = client_for(users[who])
    with django_assert_max_num_queries(6):
        response = client.get(f"/status/{project.slug}/subscribe/")
    assert response.status_code == expected


# ---------------------------------------------------------------------------- confirm links


def test_the_confirmation_link_asks_on_get_and_confirms_on_post(
    client, public, queued, mailoutbox, django_capture_on_commit_callbacks, limiter
):
    subscribe_and_send(
        client, public, "reader@example.org", queued, django_capture_on_commit_callbacks
    )
    url = link_in(mailoutbox[0], "/subscribe/confirm/")
    page = client.get(url)
    assert page.status_code == 200 and "Yes, send me updates" in page.content.decode()
    assert not Subscription.objects.get().active  # a mail scanner's GET confirms nothing
    done = client.post(url)
    assert done.status_code == 200 and "You are subscribed" in done.content.decode()
    assert Subscription.objects.get().active
    again = client.post(url)
    assert "already subscribed" in again.content.decode()


@pytest.mark.parametrize("damage", ["flip", "cut", "garbage"])
def test_a_tampered_confirmation_link_is_refused(client, public, damage):
    subscription = Subscription.objects.create(project=public, email="reader@example.org")
    token = subscriptions.confirm_token(subscription)
    bad = {
        "flip": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "cut": token[:-5],
        "garbage": "eyJzIjogMX0:1abc:xyz",
    }[damage]
    response = client.post(f"/status/{public.slug}/subscribe/confirm/{bad}/")
    assert response.status_code == 400
    assert not Subscription.objects.get().active


def test_an_expired_confirmation_link_is_refused_with_a_way_forward(client, public, monkeypatch):
    subscription = Subscription.objects.create(project=public, email="reader@example.org")
    token = subscriptions.confirm_token(subscription)
    monkeypatch.setattr(subscriptions, "CONFIRM_MAX_AGE", -1)
    response = client.post(f"/status/{public.slug}/subscribe/confirm/{token}/")
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert f"/status/{public.slug}/subscribe/" in response.content.decode()
    assert not Subscription.objects.get().active


def test_an_old_confirmation_link_cannot_undo_an_unsubscribe(client, public):
    subscription = Subscription.objects.create(project=public, email="reader@example.org")
    old_link = subscriptions.confirm_token(subscription)
    client.post(f"/status/{public.slug}/subscribe/confirm/{old_link}/")
    subscription.refresh_from_db()
    subscriptions.subscription_end(token=subscriptions.unsubscribe_token(subscription))
    response = client.post(f"/status/{public.slug}/subscribe/confirm/{old_link}/")
    assert response.status_code == 400
    assert not Subscription.objects.get().active


# ---------------------------------------------------------------------------- unsubscribe


def test_the_unsubscribe_link_works_once(client, public):
    subscription = confirmed(public, "reader@example.org")
    url = f"/status/{public.slug}/unsubscribe/{subscriptions.unsubscribe_token(subscription)}/"
    ask = client.get(url)
    assert ask.status_code == 200 and "Unsubscribe" in ask.content.decode()
    assert Subscription.objects.get().active  # GET changes nothing
    done = client.post(url)
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    ended_at = Subscription.objects.get().unsubscribed_at
    assert ended_at is not None
    again = client.post(url)
    assert again.status_code == 410
    assert client.get(url).status_code == 410
    assert Subscription.objects.get().unsubscribed_at == ended_at


def test_an_unsubscribe_link_from_an_earlier_subscription_does_not_end_a_later_one(client, public):
    subscription = confirmed(public, "reader@example.org")
    first = subscriptions.unsubscribe_token(subscription)
    client.post(f"/status/{public.slug}/unsubscribe/{first}/")
    # They subscribe again and confirm: the old link is spent for good.
    subscription.refresh_from_db()
    subscriptions.subscription_confirm(token=subscriptions.confirm_token(subscription))
    assert client.post(f"/status/{public.slug}/unsubscribe/{first}/").status_code == 410
    assert Subscription.objects.get().active


@pytest.mark.parametrize("damage", ["flip", "other_salt", "garbage"])
def test_a_tampered_unsubscribe_link_is_refused(client, public, damage):
    subscription = confirmed(public, "reader@example.org")
    token = subscriptions.unsubscribe_token(subscription)
    bad = {
        "flip": token[:-1] + ("A" if token[-1] != "A" else "B"),
        # A genuine confirmation token is no unsubscribe token.
        "other_salt": subscriptions.confirm_token(subscription),
        "garbage": "abc",
    }[damage]
    response = client.post(f"/status/{public.slug}/unsubscribe/{bad}/")
    assert response.status_code == 400
    assert Subscription.objects.get().active


def test_one_click_unsubscribe_works_without_a_csrf_token(public):
    """RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the header's URL."""
    subscription = confirmed(public, "reader@example.org")
    url = f"/status/{public.slug}/unsubscribe/{subscriptions.unsubscribe_token(subscription)}/"
    response = Client(enforce_csrf_checks=True).post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert not Subscription.objects.get().active


# ---------------------------------------------------------------------------- news by mail


@pytest.fixture
def readers(public, stakeholder):
    """An active subscriber, an unconfirmed one and one who left."""
    active = confirmed(public, "active@example.org")
    Subscription.objects.create(project=public, email="unconfirmed@example.org")
    Subscription.objects.create(
        project=public,
        email="gone@example.org",
        confirmed_at=timezone.now(),
        unsubscribed_at=timezone.now(),
    )
    return active


def apply_events(project, queued, django_capture_on_commit_callbacks):
    """Publish the project's pending events as the worker would, then run the tasks
    their receivers enqueued (subscriber mail)."""
    with django_capture_on_commit_callbacks(execute=True):
        publish.publish_project(project.pk)
    queued.run()


def test_only_confirmed_subscribers_hear_of_a_status_update(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    plan.status_update_publish(
        project=public, health=Project.Health.AT_RISK, summary="Vendor **late**.", actor=pm
    )
    apply_events(public, queued, django_capture_on_commit_callbacks)
    [message] = mailoutbox
    assert message.to == ["active@example.org"]
    assert message.subject == f"[{public.key}] Status update: At risk"
    assert "Vendor **late**." in message.body and "(was On track)" in message.body
    # The link's payload and signature; the signature's time stamp may be a second apart.
    stem = subscriptions.unsubscribe_url(readers).rsplit(":", 2)[0]
    assert stem in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith(f"<{stem}:")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert public.slug in message.extra_headers["List-Id"]


def test_each_subscriber_is_mailed_once_per_event_however_often_the_task_runs(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    confirmed(public, "second@example.org")
    plan.status_update_publish(project=public, health="on_track", summary="Fine.", actor=pm)
    apply_events(public, queued, django_capture_on_commit_callbacks)
    event = ProjectEvent.objects.get(kind=ProjectEvent.Kind.STATUS_UPDATE_PUBLISHED)
    assert len(mailoutbox) == 2
    assert notify.send_subscriber_updates.run(event.pk) == 0
    # Even with the "done" mark gone, the per-subscriber marks hold.
    SentNotice.objects.filter(key=notify.subscribers_done_key(event.pk)).delete()
    assert notify.send_subscriber_updates.run(event.pk) == 0
    assert len(mailoutbox) == 2


def test_a_failed_send_is_retried_without_mailing_anyone_twice(
    public, readers, pm, queued, mailoutbox, monkeypatch
):
    confirmed(public, "second@example.org")
    plan.status_update_publish(project=public, health="on_track", summary="Fine.", actor=pm)
    publish.publish_project(public.pk)
    event = ProjectEvent.objects.get(kind=ProjectEvent.Kind.STATUS_UPDATE_PUBLISHED)
    real_send = django_mail.EmailMessage.send

    def second_fails(message, *args, **kwargs):
        if message.to == ["second@example.org"]:
            raise OSError("mail server went away")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(django_mail.EmailMessage, "send", second_fails)
    with pytest.raises(OSError):
        notify.send_subscriber_updates.run(event.pk)
    assert [m.to for m in mailoutbox] == [["active@example.org"]]
    monkeypatch.setattr(django_mail.EmailMessage, "send", real_send)
    assert notify.send_subscriber_updates.run(event.pk) == 1
    assert sorted(m.to[0] for m in mailoutbox) == ["active@example.org", "second@example.org"]


def test_a_milestone_move_tells_name_dates_and_the_reason_shown_on_the_status_page(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    go_live = plan.milestone_create(
        project=public, name="Go-live", target_date=GO_LIVE, kind=Milestone.Kind.GO_LIVE, actor=pm
    )
    apply_events(public, queued, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    plan.milestone_reschedule(
        milestone=go_live, target_date=GO_LIVE + timedelta(days=14), reason="Vendor delay", actor=pm
    )
    apply_events(public, queued, django_capture_on_commit_callbacks)
    # One mail: the help desk's paired milestone moved too, but it is not news for readers.
    [message] = mailoutbox
    assert message.subject == f"[{public.key}] Go-live moved to Mon 15 Mar 2027"
    body = message.body
    assert "Monday 15 March 2027" in body and "Monday 1 March 2027" in body
    assert "14 days later" in body and "Why: Vendor delay" in body
    assert "1 March 2027 (14 days later than first planned)" in body


def test_a_move_overtaken_by_a_later_move_is_not_mailed(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    cutover = plan.milestone_create(project=public, name="Cutover", target_date=GO_LIVE, actor=pm)
    plan.milestone_reschedule(milestone=cutover, target_date=GO_LIVE + timedelta(days=7),
                              reason="first", actor=pm)  # fmt: skip
    cutover.refresh_from_db()
    plan.milestone_reschedule(milestone=cutover, target_date=GO_LIVE + timedelta(days=21),
                              reason="second", actor=pm)  # fmt: skip
    apply_events(public, queued, django_capture_on_commit_callbacks)
    assert [m.subject for m in mailoutbox] == [f"[{public.key}] Cutover moved to Mon 22 Mar 2027"]


def test_a_go_live_is_announced(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    go_live = plan.milestone_create(
        project=public, name="Go-live", target_date=GO_LIVE, kind=Milestone.Kind.GO_LIVE, actor=pm
    )
    plan.milestone_complete(milestone=go_live, actor=pm)
    apply_events(public, queued, django_capture_on_commit_callbacks)
    [message] = mailoutbox
    assert message.subject == f"[{public.key}] {public.name} is live"
    assert "“Go-live” was completed on" in message.body


def test_stakeholders_page_mail_goes_only_to_stakeholders_own_addresses(
    project, stakeholder, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    confirmed(project, stakeholder.email)
    confirmed(project, "former-stakeholder@example.org")
    plan.status_update_publish(project=project, health="on_track", summary="Fine.", actor=pm)
    apply_events(project, queued, django_capture_on_commit_callbacks)
    assert [m.to for m in mailoutbox] == [[stakeholder.email]]


def test_a_page_made_private_stops_its_mail(
    public, readers, pm, queued, mailoutbox, django_capture_on_commit_callbacks
):
    Project.objects.filter(pk=public.pk).update(visibility=Project.Visibility.PRIVATE)
    plan.status_update_publish(project=public, health="on_track", summary="Fine.", actor=pm)
    apply_events(public, queued, django_capture_on_commit_callbacks)
    assert mailoutbox == []


def test_the_sweep_sends_what_a_lost_task_did_not(public, readers, pm, queued, mailoutbox):
    plan.status_update_publish(project=public, health="on_track", summary="Fine.", actor=pm)
    publish.publish_project(public.pk)  # its on-commit receivers never ran: "lost"
    event = ProjectEvent.objects.get(kind=ProjectEvent.Kind.STATUS_UPDATE_PUBLISHED)
    ProjectEvent.objects.filter(pk=event.pk).update(
        published_at=timezone.now() - timedelta(minutes=5)
    )
    # Its webhook fan-out (none here) and its subscriber mail were left undone.
    assert notify.sweep_notifications.run() == 2
    queued.run()
    assert [m.to for m in mailoutbox] == [["active@example.org"]]
    assert notify.sweep_notifications.run() == 0 and queued == []
