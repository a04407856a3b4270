"""A status page as feeds: Atom (status updates and milestone moves) and iCalendar
(milestones as all-day events).

Identifiers never change: an Atom entry is `tag:<host>,<day it was written>:status-update-<id>`
or `…:milestone-slip-<id>`, a calendar event's UID is `milestone-<id>@<host>`, so readers
and calendars update what they have instead of adding copies. A calendar event's SEQUENCE
is the number of plan changes recorded for its milestone (moves, forecast changes,
completion) and LAST-MODIFIED/DTSTAMP the time of the last one, so calendar clients
notice when a date moves.

Both show what the page shows to the public: no names of people, no internal text.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.db.models import Count, Max
from django.db.models.fields.json import KT
from django.urls import reverse
from django.utils import feedgenerator, timezone
from django.utils.http import urlencode

from config.text import render_user_text
from liaison.briefing import human_date
from projects.models import Milestone, MilestoneSlip, Project, ProjectEvent

FEED_UPDATES = 20
FEED_SLIPS = 20
# Plan events about one milestone: each changes what its calendar event says.
MILESTONE_EVENT_KINDS = (
    ProjectEvent.Kind.MILESTONE_RESCHEDULED,
    ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED,
    ProjectEvent.Kind.MILESTONE_COMPLETED,
    ProjectEvent.Kind.GO_LIVE_REACHED,
)


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def page_url(project: Project, key: str = "", fragment: str = "") -> str:
    url = settings.SITE_URL + reverse("liaison:status_page", args=[project.slug])
    if key:
        url += "?" + urlencode({"key": key})
    return url + (f"#{fragment}" if fragment else "")


def feed_url(project: Project, name: str, key: str = "") -> str:
    url = settings.SITE_URL + reverse(name, args=[project.slug])
    return url + ("?" + urlencode({"key": key}) if key else "")


def _tag(created: datetime, what: str) -> str:
    return f"tag:{site_host()},{timezone.localtime(created):%Y-%m-%d}:{what}"


def atom_feed(project: Project, *, key: str = "") -> str:
    """The project's status updates and milestone moves, newest first, as Atom XML."""
    feed = feedgenerator.Atom1Feed(
        title=f"{project.name}: status",
        link=page_url(project, key),
        description=f"Status updates and plan changes of {project.name}.",
        language=settings.LANGUAGE_CODE,
        author_name=project.name,
        feed_url=feed_url(project, "liaison:status_feed", key),
        feed_guid=_tag(project.created_at, f"status-{project.pk}"),
    )
    entries = []
    for update in project.status_updates.all()[:FEED_UPDATES]:
        entries.append(
            {
                "title": f"Status update: {update.get_health_display()}",
                "link": page_url(project, key, f"update-{update.pk}"),
                "description": render_user_text(update.summary),
                "pubdate": update.created_at,
                "updateddate": update.created_at,
                "unique_id": _tag(update.created_at, f"status-update-{update.pk}"),
                "categories": ["status-update", update.health],
            }
        )
    slips = (
        MilestoneSlip.objects.filter(milestone__project=project)
        .select_related("milestone")
        .order_by("-created_at", "-id")[:FEED_SLIPS]
    )
    for slip in slips:
        milestone = slip.milestone
        direction = "later" if slip.days > 0 else "earlier"
        summary = (
            f"“{milestone.name}” moved from {human_date(slip.old_date)} to "
            f"{human_date(slip.new_date)} ({abs(slip.days)} days {direction})."
        )
        entries.append(
            {
                "title": f"{milestone.name} moved to {human_date(slip.new_date)}",
                "link": page_url(project, key, f"milestone-{milestone.pk}"),
                # The sanitiser escapes the name and reason; Markdown keeps the paragraphs.
                "description": render_user_text(f"{summary}\n\nReason: {slip.reason}"),
                "pubdate": slip.created_at,
                "updateddate": slip.created_at,
                "unique_id": _tag(slip.created_at, f"milestone-slip-{slip.pk}"),
                "categories": ["milestone-moved"],
            }
        )
    entries.sort(key=lambda e: e["pubdate"], reverse=True)
    for entry in entries:
        feed.add_item(**entry)
    return feed.writeString("utf-8")


def _change_log(project: Project) -> dict[int, tuple[int, datetime]]:
    """{milestone id: (plan events about it, time of the last)} in one query."""
    rows = (
        ProjectEvent.objects.filter(project=project, kind__in=MILESTONE_EVENT_KINDS)
        .order_by()
        .values(milestone=KT("payload__milestone"))
        .annotate(changes=Count("id"), last=Max("created_at"))
    )
    log = {}
    for row in rows:
        try:
            log[int(row["milestone"])] = (row["changes"], row["last"])
        except (TypeError, ValueError):
            continue
    return log


def _day_text(milestone: Milestone) -> str:
    lines = [f"Expected: {human_date(milestone.expected_date)}"]
    lines.append(f"First planned (baseline): {human_date(milestone.baseline_date)}")
    lines.append(f"Planned (target): {human_date(milestone.target_date)}")
    if milestone.forecast_date:
        lines.append(f"Forecast: {human_date(milestone.forecast_date)}")
    if milestone.slip_days > 0:
        lines.append(f"{milestone.slip_days} days later than first planned.")
    elif milestone.slip_days < 0:
        lines.append(f"{-milestone.slip_days} days earlier than first planned.")
    if milestone.completed_at:
        lines.insert(0, f"Completed on {human_date(timezone.localdate(milestone.completed_at))}.")
    return "\n".join(lines)


def milestones_calendar(project: Project, *, key: str = "") -> bytes:
    """The project's milestones as all-day iCalendar events with stable UIDs."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Bridgedesk//Status pages//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{project.name}: milestones")
    calendar.add("x-published-ttl", "PT1H")
    host = site_host()
    log = _change_log(project)
    for milestone in project.milestones.order_by("target_date", "id"):
        changes, last = log.get(milestone.pk, (0, project.created_at))
        last = last.astimezone(UTC)  # DTSTAMP and LAST-MODIFIED are UTC by the RFC
        day = (
            timezone.localdate(milestone.completed_at)
            if milestone.completed_at
            else milestone.expected_date
        )
        event = icalendar.Event()
        event.add("uid", f"milestone-{milestone.pk}@{host}")
        name = milestone.name
        if milestone.kind != Milestone.Kind.REGULAR:
            name = f"{milestone.get_kind_display()}: {name}"
        event.add(
            "summary", f"{project.name}: {name}" + (" (done)" if milestone.completed_at else "")
        )
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("dtstamp", last)
        event.add("last-modified", last)
        event.add("sequence", changes)
        event.add("description", _day_text(milestone))
        event.add("categories", [milestone.get_kind_display()])
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")  # an all-day note, not a busy day
        event.add("url", page_url(project, key, f"milestone-{milestone.pk}"))
        calendar.add_component(event)
    return calendar.to_ical()
