"""The weekly rhythm: every stakeholder's Monday digest of their projects, and the PM's
reminder when a project has gone a week without a status update."""

from datetime import date, timedelta

import pytest
from celery import Celery
from django.core.cache import cache
from django.utils import timezone

from config.celery import _schedule_periodic_tasks
from liaison import notify
from liaison.models import SentNotice
from projects import services as plan
from projects import tasks as project_tasks
from projects.models import Milestone, MilestoneSlip, Project, StatusUpdate
from tests import factories
from tests.projects import page_factories as pf

pytestmark = pytest.mark.django_db

PILOT = date(2027, 3, 1)


@pytest.fixture
def queued(monkeypatch):
    tasks = []

    def fake_enqueue(task, *args, **kwargs):
        tasks.append((task.name, args))
        return True

    monkeypatch.setattr("liaison.notify.enqueue", fake_enqueue)
    return tasks


@pytest.fixture
def portfolio(project, stakeholder, pm):
    """The stakeholder's projects: VPN (stakeholders page, on track, a pilot that slipped
    this week and a go-live with the help desk's paired milestone) and Mail (public, off
    track). Plus projects that must not appear: one private, one done, one archived, and
    one the stakeholder has nothing to do with."""
    pilot = plan.milestone_create(project=project, name="Pilot", target_date=PILOT, actor=pm)
    plan.milestone_create(
        project=project, name="Go-live", target_date=PILOT + timedelta(days=60),
        kind=Milestone.Kind.GO_LIVE, actor=pm,
    )  # fmt: skip
    plan.milestone_reschedule(milestone=pilot, target_date=PILOT + timedelta(days=7),
                              reason="Old news", actor=pm)  # fmt: skip
    pf.backdate(MilestoneSlip.objects.get(reason="Old news"), 10)
    pilot.refresh_from_db()
    plan.milestone_reschedule(milestone=pilot, target_date=PILOT + timedelta(days=14),
                              reason="Firewall rules late", actor=pm)  # fmt: skip
    old = plan.status_update_publish(project=project, health="on_track", summary="Old.", actor=pm)
    pf.backdate(old, 9)
    plan.status_update_publish(
        project=project, health="on_track", summary="Pilot group chosen. <script>x</script>",
        actor=pm,
    )  # fmt: skip
    mail = factories.ProjectFactory(
        key="MAIL", name="Mail migration", slug="mail", stakeholders=[stakeholder],
        visibility=Project.Visibility.PUBLIC, health=Project.Health.OFF_TRACK,
    )  # fmt: skip
    public = Project.Visibility.PUBLIC
    factories.ProjectFactory(name="Secret merger", stakeholders=[stakeholder],
                             visibility=Project.Visibility.PRIVATE)  # fmt: skip
    factories.ProjectFactory(name="Finished thing", stakeholders=[stakeholder],
                             visibility=public, status=Project.Status.DONE)  # fmt: skip
    factories.ProjectFactory(name="Shelved thing", stakeholders=[stakeholder],
                             visibility=public, archived_at=timezone.now())  # fmt: skip
    factories.ProjectFactory(name="Someone else's", visibility=Project.Visibility.PUBLIC)
    return project, mail


def test_a_stakeholder_gets_one_digest_of_their_projects_worst_first(
    portfolio, stakeholder, mailoutbox
):
    week = notify.week_key(timezone.localdate())
    assert notify.send_digest.run(stakeholder.pk, week) is True
    [message] = mailoutbox
    assert message.to == [stakeholder.email]
    assert message.subject.startswith("Your projects this week")
    assert message.subject.endswith("1 off track, 1 on track")
    body = message.body
    assert body.index("Mail migration (MAIL): Off track") < body.index("VPN replacement (VPN)")
    # Latest update only, as written (plain text: nothing to escape or run).
    assert "Pilot group chosen. <script>x</script>" in body and "Old." not in body
    assert "No status update yet." in body  # Mail has none
    # The next milestone: forecast against the first commitment.
    assert (
        "Next: Pilot, expected Mon 15 Mar 2027, 14 days later than first planned (1 Mar 2027)"
        in body
    )
    # This week's move with its reason; last week's is not news.
    assert "8 Mar → 15 Mar 2027. Firewall rules late" in body
    assert "Old news" not in body
    assert "Help desk ready" not in body
    for absent in ("Secret merger", "Finished thing", "Shelved thing", "Someone else's"):
        assert absent not in body
    assert "/status/vpn/" in body and "/status/mail/" in body
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_a_digest_goes_out_once_a_week(portfolio, stakeholder, mailoutbox, queued):
    week = notify.week_key(timezone.localdate())
    assert notify.send_weekly_digests.run(week) == 1
    assert queued == [("liaison.notify.send_digest", (stakeholder.pk, week))]
    assert notify.send_digest.run(stakeholder.pk, week) is True
    # The morning's later runs, and a redelivered task, send nothing more.
    queued.clear()
    assert notify.send_weekly_digests.run(week) == 0 and queued == []
    assert notify.send_digest.run(stakeholder.pk, week) is False
    assert len(mailoutbox) == 1
    assert SentNotice.objects.filter(key=f"digest:{stakeholder.pk}:{week}").exists()
    # Next Monday is another week.
    next_week = notify.week_key(timezone.localdate() + timedelta(days=7))
    assert notify.send_weekly_digests.run(next_week) == 1


def test_a_failed_send_leaves_the_week_unclaimed(portfolio, stakeholder, mailoutbox, monkeypatch):
    week = notify.week_key(timezone.localdate())

    def smtp_down(self, *args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", smtp_down)
    with pytest.raises(OSError):
        notify.send_digest.run(stakeholder.pk, week)
    assert not SentNotice.objects.filter(key=f"digest:{stakeholder.pk}:{week}").exists()


def test_nobody_without_a_running_visible_project_gets_a_digest(stakeholder, mailoutbox, queued):
    factories.ProjectFactory(stakeholders=[stakeholder], visibility=Project.Visibility.PRIVATE)
    factories.ProjectFactory(stakeholders=[stakeholder], status=Project.Status.CANCELLED)
    week = notify.week_key(timezone.localdate())
    # The private project makes them a candidate, but there is nothing they may read.
    assert notify.send_weekly_digests.run(week) == 1
    assert notify.send_digest.run(stakeholder.pk, week) is False
    assert mailoutbox == []
    nobody = factories.StakeholderFactory(email="")
    factories.ProjectFactory(stakeholders=[nobody], visibility=Project.Visibility.PUBLIC)
    queued.clear()
    assert notify.send_weekly_digests.run(week) == 1  # not the one without an address


@pytest.mark.parametrize("count", [1, 6])
def test_a_digest_costs_the_same_queries_however_many_projects(
    stakeholder, pm, count, django_assert_num_queries
):
    for n in range(count):
        project = factories.ProjectFactory(stakeholders=[stakeholder], visibility="public")
        milestone = factories.MilestoneFactory(project=project)
        MilestoneSlip.objects.create(milestone=milestone, old_date=PILOT, new_date=PILOT,
                                     reason=f"r{n}")  # fmt: skip
        StatusUpdate.objects.create(project=project, health="on_track", summary="s", author=pm)
    # roles, projects, latest updates, open milestones, this week's slips
    with django_assert_num_queries(5):
        rows = notify.digest_for(stakeholder)
    assert len(rows) == count and all(row.update and row.slips for row in rows)


def beat_entries():
    app = Celery("beat-schedule-test", set_as_current=False)
    _schedule_periodic_tasks(app)
    return {entry["task"]: entry for entry in app.conf.beat_schedule.values()}


def test_beat_sends_digests_on_monday_mornings_and_runs_the_sweeps():
    entries = beat_entries()
    digest = entries["liaison.notify.send_weekly_digests"]["schedule"]
    assert digest.day_of_week == {1} and digest.minute == {0}
    assert min(digest.hour) == 7 and len(digest.hour) > 1  # again later if seven was missed
    assert "liaison.notify.sweep_notifications" in entries
    assert "liaison.webhooks.sweep_due_deliveries" in entries


def test_mail_tasks_go_to_the_email_queue_and_webhooks_to_the_default_one():
    from config.celery import app

    router = app.amqp.router
    assert router.route({}, "liaison.notify.send_digest")["queue"].name == "email"
    assert router.route({}, "liaison.notify.send_subscriber_updates")["queue"].name == "email"
    assert router.route({}, "liaison.webhooks.deliver")["queue"].name == "default"


# ---------------------------------------------------------------------------- PM reminder


@pytest.fixture
def no_claim(project):
    cache.delete(project_tasks.reminder_key(project.pk))
    yield
    cache.delete(project_tasks.reminder_key(project.pk))


@pytest.mark.parametrize(
    ("age", "due"),
    [(timedelta(days=6, hours=23), False), (timedelta(days=7, hours=1), True)],
)
def test_a_pm_is_reminded_once_seven_days_pass_without_an_update(
    project, pm, mailoutbox, no_claim, age, due
):
    pf.backdate(project, 30)
    update = pf.StatusUpdateFactory(project=project)
    StatusUpdate.objects.filter(pk=update.pk).update(created_at=timezone.now() - age)
    assert project_tasks.projects_needing_an_update().filter(pk=project.pk).exists() is due
    assert project_tasks.send_status_update_reminder.run(project.pk) is due
    assert [m.to for m in mailoutbox] == ([[pm.email]] if due else [])


def test_a_new_update_silences_the_reminder(project, pm, mailoutbox, no_claim):
    pf.backdate(project, 30)
    assert project_tasks.projects_needing_an_update().filter(pk=project.pk).exists()
    plan.status_update_publish(project=project, health="on_track", summary="Done.", actor=pm)
    assert project_tasks.send_status_update_reminder.run(project.pk) is False
    assert mailoutbox == []


def test_beat_runs_the_reminder_every_day():
    schedule = beat_entries()["projects.tasks.remind_status_updates"]["schedule"]
    assert schedule.day_of_week == set(range(7))


def test_old_marks_of_sent_mail_are_pruned_weekly_and_others_are_kept():
    old = timezone.now() - notify.NOTICE_RETENTION - timedelta(days=1)
    for key in ("subscriber:1:project-event:2", "digest:1:2020-W01", "someone-else:1"):
        SentNotice.objects.create(key=key)
    SentNotice.objects.update(sent_at=old)
    SentNotice.objects.create(key="digest:1:2026-W47")
    notify.send_weekly_digests.run("2026-W48")
    assert sorted(SentNotice.objects.values_list("key", flat=True)) == [
        "digest:1:2026-W47",
        "someone-else:1",
    ]
