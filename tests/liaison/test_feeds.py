"""The Atom feed and the iCalendar file of a status page, read back with real parsers
(feedparser, icalendar): they parse, their identifiers never change, and a moved
milestone is announced as a new revision of the same calendar event."""

from datetime import date, timedelta

import feedparser
import icalendar
import pytest
from django.utils import timezone

from liaison import status
from projects import services
from projects.models import Milestone, Project
from tests import factories
from tests.projects.page_factories import SlipFactory, StatusUpdateFactory
from tests.security.test_hostile_text import HOSTILE

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_project(project):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PUBLIC)
    project.refresh_from_db()
    return project


def atom(client, project, **params):
    response = client.get(f"/status/{project.slug}/feed.atom", params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def calendar(client, project, **params):
    response = client.get(f"/status/{project.slug}/milestones.ics", params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def events_by_uid(cal) -> dict:
    return {str(event["UID"]): event for event in cal.walk("VEVENT")}


# --- Atom -----------------------------------------------------------------------------


def test_the_feed_lists_updates_and_moves_newest_first(client, public_project, pm):
    milestone = factories.MilestoneFactory(project=public_project, name="Client rolled out")
    update = StatusUpdateFactory(project=public_project, summary="Pilot went **well**.")
    slip = SlipFactory(milestone=milestone, reason="Vendor late", author=pm)
    feed = atom(client, public_project)
    assert feed.feed.title == "VPN replacement: status"
    assert [e.id for e in feed.entries] == [
        f"tag:127.0.0.1,{timezone.localdate(slip.created_at):%Y-%m-%d}:milestone-slip-{slip.pk}",
        f"tag:127.0.0.1,{timezone.localdate(update.created_at):%Y-%m-%d}:status-update-{update.pk}",
    ]
    moved, published = feed.entries
    assert moved.title.startswith("Client rolled out moved to")
    assert "Vendor late" in moved.summary
    assert moved.link.endswith(f"/status/vpn/#milestone-{milestone.pk}")
    assert published.title == "Status update: On track"
    assert "<strong>well</strong>" in published.summary
    assert published.link.endswith(f"/status/vpn/#update-{update.pk}")
    assert pm.get_full_name() not in str(feed)  # no names in a public feed


def test_entry_ids_stay_the_same_when_more_is_published(
    client, public_project, pm, django_capture_on_commit_callbacks
):
    StatusUpdateFactory(project=public_project, summary="First")
    before = {e.id for e in atom(client, public_project).entries}
    with django_capture_on_commit_callbacks(execute=True):
        services.status_update_publish(
            project=public_project, health="at_risk", summary="Second", actor=pm
        )
    after = atom(client, public_project).entries
    assert len(after) == 2
    assert before < {e.id for e in after}
    assert after[0].title == "Status update: At risk"


def test_hostile_text_in_the_feed_is_sanitised(client, public_project):
    StatusUpdateFactory(project=public_project, summary="\n\n".join(HOSTILE))
    feed = atom(client, public_project)
    summary = feed.entries[0].summary
    assert "<script" not in summary and "onerror" not in summary and "javascript:" not in summary


def test_a_link_readers_feed_links_carry_the_key(client, project, pm):
    link = status.status_link_create(project=project, label="Board", actor=pm)
    token = status.link_token(link)
    StatusUpdateFactory(project=project)
    feed = atom(client, project, key=token)
    assert "key=" in feed.entries[0].link
    assert "key=" in feed.feed.link


def test_an_empty_feed_parses(client, public_project):
    feed = atom(client, public_project)
    assert feed.entries == []


# --- iCalendar ----------------------------------------------------------------------


def test_milestones_are_all_day_events_with_stable_uids(client, public_project):
    today = timezone.localdate()
    go_live = factories.MilestoneFactory(
        project=public_project,
        name="Cut-over",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + timedelta(days=30),
        target_date=today + timedelta(days=30),
    )
    done = factories.MilestoneFactory(
        project=public_project,
        name="Pilot",
        baseline_date=today - timedelta(days=10),
        target_date=today - timedelta(days=10),
        completed_at=timezone.now() - timedelta(days=9),
    )
    cal = calendar(client, public_project)
    assert str(cal["X-WR-CALNAME"]) == "VPN replacement: milestones"
    events = events_by_uid(cal)
    assert set(events) == {f"milestone-{go_live.pk}@127.0.0.1", f"milestone-{done.pk}@127.0.0.1"}
    cut_over = events[f"milestone-{go_live.pk}@127.0.0.1"]
    assert str(cut_over["SUMMARY"]) == "VPN replacement: Go-live: Cut-over"
    start, end = cut_over.decoded("DTSTART"), cut_over.decoded("DTEND")
    assert type(start) is date and start == today + timedelta(days=30)
    assert end - start == timedelta(days=1)
    assert int(cut_over["SEQUENCE"]) == 0
    pilot = events[f"milestone-{done.pk}@127.0.0.1"]
    assert str(pilot["SUMMARY"]).endswith("(done)")
    assert pilot.decoded("DTSTART") == timezone.localdate(done.completed_at)


def test_a_moved_milestone_is_a_new_revision_of_the_same_event(
    client, public_project, pm, django_capture_on_commit_callbacks
):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Project.objects.filter(pk=public_project.pk).update(created_at=an_hour_ago)
    milestone = factories.MilestoneFactory(project=public_project, name="Rollout")
    uid = f"milestone-{milestone.pk}@127.0.0.1"
    before = events_by_uid(calendar(client, public_project))[uid]
    new_date = milestone.target_date + timedelta(days=14)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_reschedule(
            milestone=milestone, target_date=new_date, reason="Vendor late", actor=pm
        )
    after = events_by_uid(calendar(client, public_project))[uid]
    assert after.decoded("DTSTART") == new_date
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert after.decoded("DTSTAMP") == after.decoded("LAST-MODIFIED")
    assert "14 days later than first planned" in str(after["DESCRIPTION"])


def test_hostile_milestone_names_stay_text_in_the_calendar(client, public_project):
    factories.MilestoneFactory(project=public_project, name="Go\r\nBEGIN:VEVENT\r\nUID:evil")
    cal = calendar(client, public_project)
    assert len(list(cal.walk("VEVENT"))) == 1
    assert all("evil" not in str(event["UID"]) for event in cal.walk("VEVENT"))


@pytest.mark.parametrize("rows", [1, 10])
def test_feeds_run_a_constant_number_of_queries(
    client, public_project, pm, rows, django_assert_num_queries
):
    for _ in range(rows):
        milestone = factories.MilestoneFactory(project=public_project)
        SlipFactory(milestone=milestone, author=pm)
        StatusUpdateFactory(project=public_project)
    status.bump(public_project.pk)
    with django_assert_num_queries(4):  # is it public?, the project; updates, moves
        atom(client, public_project)
    with django_assert_num_queries(4):  # is it public?, the project; change log, milestones
        calendar(client, public_project)
    with django_assert_num_queries(1):  # cached until something changes
        atom(client, public_project)
    with django_assert_num_queries(1):
        calendar(client, public_project)
