"""The agents' triage list: filters, search, sort, keyset pages, saved views, bulk
actions and the "next ticket" button."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.models import BusinessCalendar
from helpdesk.models import SavedView, SLAPolicy, Ticket, TicketEvent
from helpdesk.services import ticket_refresh_search, ticket_reply, ticket_update
from tests import factories

pytestmark = pytest.mark.django_db

# session, user, roles, queues with open counts, saved views, the page of tickets, their tags
TRIAGE_QUERIES = 7


def subjects(response):
    return [ticket.subject for ticket in response.context["tickets"]]


@pytest.mark.parametrize("rows", [1, 200])
def test_triage_runs_the_same_queries_for_1_and_200_tickets(
    client_for, agent, queue, rows, django_assert_num_queries
):
    tag_names = ["vpn", "laptop"]
    for ticket in factories.TicketFactory.create_batch(rows, queue=queue, assignee=agent):
        ticket_update(ticket=ticket, actor=agent, version=None, tags=tag_names)
    client = client_for(agent)
    with django_assert_num_queries(TRIAGE_QUERIES):
        response = client.get("/tickets/?sort=priority")
    assert len(response.context["tickets"]) == min(rows, 50)


@pytest.mark.parametrize("rows", [1, 200])
def test_triage_with_sla_badges_runs_the_same_queries_for_1_and_200_tickets(
    client_for, agent, queue, rows, django_assert_num_queries
):
    """Every row's SLA state, due date, requester and agent come with the page: nothing
    is loaded row by row (the list reads only the columns it shows)."""
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Europe/Berlin")
    policy = SLAPolicy.objects.create(name="Standard", calendar=calendar)
    now = timezone.now()
    factories.TicketFactory.create_batch(
        rows,
        queue=queue,
        assignee=agent,
        sla_policy=policy,
        first_response_due=now + timedelta(minutes=20),
        resolution_due=now + timedelta(minutes=30),
    )
    client = client_for(agent)
    with django_assert_num_queries(TRIAGE_QUERIES + 2):  # the calendar's hours and holidays
        response = client.get("/tickets/?sort=due")
    page = response.content.decode()
    assert page.count("Due soon</span>") == min(rows, 50)
    assert page.count(agent.get_full_name() or agent.get_username()) >= min(rows, 50)


def test_search_finds_words_in_subject_description_and_replies(client_for, agent, queue):
    by_reply = factories.TicketFactory(queue=queue, subject="Screen", description="flickers")
    ticket_reply(ticket=by_reply, author=agent, body="Replaced the docking station", public=False)
    by_subject = factories.TicketFactory(queue=queue, subject="Docking station missing")
    other = factories.TicketFactory(queue=queue, subject="Printer", description="jams")
    for ticket in (by_subject, other):
        ticket_refresh_search(ticket.pk)
    found = subjects(client_for(agent).get("/tickets/?q=docking"))
    assert sorted(found) == ["Docking station missing", "Screen"]
    assert subjects(client_for(agent).get("/tickets/?q=jams")) == ["Printer"]


def test_search_never_reaches_another_queue(client_for, outsider, ticket):
    ticket_refresh_search(ticket.pk)
    assert subjects(client_for(outsider).get("/tickets/?q=printer")) == []


def test_filters_by_priority_type_tag_project_and_assignee(client_for, agent, queue, project):
    wanted = factories.TicketFactory(
        queue=queue, priority="P1", type="problem", assignee=agent, project=project
    )
    ticket_update(ticket=wanted, actor=agent, version=None, tags=["vpn"])
    factories.TicketFactory(queue=queue, priority="P1", type="incident")
    factories.TicketFactory(queue=queue, priority="P3", type="problem")
    client = client_for(agent)
    query = "/tickets/?priority=P1&type=problem&tag=vpn&project=VPN&assignee=me"
    assert subjects(client.get(query)) == [wanted.subject]
    assert len(subjects(client.get("/tickets/?priority=P1"))) == 2


def test_the_tag_filter_pages_through_exactly_the_tagged_tickets(client_for, agent, queue):
    tagged = factories.TicketFactory.create_batch(60, queue=queue)
    for ticket in tagged[::2]:
        ticket_update(ticket=ticket, actor=agent, version=None, tags=["vpn", "laptop"])
    for ticket in tagged[1::2]:
        ticket_update(ticket=ticket, actor=agent, version=None, tags=["laptop"])
    client = client_for(agent)
    for sort in ("newest", "priority", "due"):
        seen, url = [], f"/tickets/?tag=vpn&sort={sort}"
        while url:
            response = client.get(url)
            seen += [t.pk for t in response.context["tickets"]]
            next_query = response.context["next_query"]
            url = f"/tickets/?{next_query}" if next_query else ""
        assert sorted(seen) == sorted(t.pk for t in tagged[::2]), sort
    assert subjects(client.get("/tickets/?tag=no-such-tag")) == []


def test_breached_filter_and_badge(client_for, agent, queue):
    calendar = BusinessCalendar.objects.create(name="Always", time_zone="UTC")
    policy = SLAPolicy.objects.create(name="Standard", calendar=calendar)
    now = timezone.now()
    factories.TicketFactory(
        queue=queue, subject="Late", sla_policy=policy, resolution_due=now - timedelta(hours=1)
    )
    factories.TicketFactory(
        queue=queue, subject="Fine", sla_policy=policy, resolution_due=now + timedelta(days=3)
    )
    response = client_for(agent).get("/tickets/?sla=breached")
    assert subjects(response) == ["Late"]
    assert "Breached" in response.content.decode()


def test_priority_sort_pages_through_ties_without_repeats_or_gaps(client_for, agent, queue):
    made = [factories.TicketFactory(queue=queue, priority=p) for p in ["P3", "P1", "P2"] * 40]
    client = client_for(agent)
    seen, url = [], "/tickets/?sort=priority"
    while url:
        response = client.get(url)
        seen += [t.pk for t in response.context["tickets"]]
        url = (
            "/tickets/?" + response.context["next_query"] if response.context["next_query"] else ""
        )
    expected = sorted(made, key=lambda t: (t.priority, t.pk))
    assert seen == [t.pk for t in expected]


def test_a_garbled_cursor_starts_from_the_first_page(client_for, agent, ticket):
    response = client_for(agent).get("/tickets/?cursor=%%%garbage&sort=due")
    assert response.status_code == 200
    assert subjects(response) == [ticket.subject]


def test_snoozed_tickets_leave_triage_until_they_wake(client_for, agent, queue):
    factories.TicketFactory(
        queue=queue, subject="Later", snoozed_until=timezone.now() + timedelta(days=1)
    )
    factories.TicketFactory(queue=queue, subject="Now")
    client = client_for(agent)
    assert subjects(client.get("/tickets/")) == ["Now"]
    assert subjects(client.get("/tickets/?snoozed=1")) == ["Later"]


def test_queue_counts_fragment_for_htmx(client_for, agent, queue):
    factories.TicketFactory.create_batch(2, queue=queue)
    response = client_for(agent).get("/tickets/?fragment=counts", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="queue-counts"' in page
    assert "<table" not in page
    assert "HX-Request" in response["Vary"]


def test_saved_views_personal_and_shared(client_for, agent, queue):
    other = factories.AgentFactory()
    client = client_for(agent)
    client.post("/tickets/views/", {"name": "My P1s", "query": "priority=P1"})
    client.post("/tickets/views/", {"name": "Team P2s", "query": "priority=P2", "shared": "1"})
    mine = SavedView.objects.get(name="My P1s")
    names = [v.name for v in client_for(other).get("/tickets/").context["saved_views"]]
    assert names == ["Team P2s"]
    assert client_for(other).post(f"/tickets/views/{mine.pk}/delete/").status_code == 404
    assert client_for(agent).post(f"/tickets/views/{mine.pk}/delete/").status_code == 302
    assert not SavedView.objects.filter(pk=mine.pk).exists()


def test_bulk_assign_skips_tickets_changed_meanwhile(client_for, agent, queue):
    fresh, stale = factories.TicketFactory.create_batch(2, queue=queue)
    seen = stale.version
    ticket_update(ticket=stale, actor=agent, version=None, priority="P1")
    response = client_for(agent).post(
        "/tickets/bulk/",
        {"action": "assign_me", "ticket": [f"{fresh.pk}:{fresh.version}", f"{stale.pk}:{seen}"]},
        follow=True,
    )
    fresh.refresh_from_db()
    stale.refresh_from_db()
    assert fresh.assignee == agent
    assert stale.assignee is None
    page = response.content.decode()
    assert "Updated 1 tickets." in page
    assert f"Skipped {stale.reference}" in page


def test_bulk_status_tag_and_merge(client_for, agent, queue):
    a, b, c = factories.TicketFactory.create_batch(3, queue=queue)
    client = client_for(agent)
    ticks = [f"{t.pk}:{t.version}" for t in (a, b)]
    client.post("/tickets/bulk/", {"action": "status", "value": "pending", "ticket": ticks})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("pending", "pending")
    ticks = [f"{t.pk}:{t.version}" for t in (a, b)]
    client.post("/tickets/bulk/", {"action": "tag", "value": "Outage", "ticket": ticks})
    assert list(a.tags.values_list("name", flat=True)) == ["outage"]
    client.post("/tickets/bulk/", {"action": "merge", "ticket": [f"{t.pk}:1" for t in (a, b, c)]})
    b.refresh_from_db()
    c.refresh_from_db()
    assert b.merged_into == a and c.merged_into == a
    assert b.status == c.status == "closed"


def test_bulk_cannot_touch_tickets_of_other_queues(client_for, outsider, ticket):
    client_for(outsider).post(
        "/tickets/bulk/", {"action": "assign_me", "ticket": [f"{ticket.pk}:{ticket.version}"]}
    )
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_next_ticket_takes_the_most_urgent_unassigned(client_for, agent, queue):
    factories.TicketFactory(queue=queue, priority="P3")
    urgent = factories.TicketFactory(queue=queue, priority="P1")
    factories.TicketFactory(queue=queue, priority="P1", assignee=agent)
    response = client_for(agent).post("/tickets/next/")
    assert response["Location"] == f"/tickets/{urgent.pk}/"
    urgent.refresh_from_db()
    assert urgent.assignee == agent
    assert urgent.events.filter(kind=TicketEvent.Kind.ASSIGNMENT).exists()


def test_next_ticket_with_nothing_waiting_says_so(client_for, agent, queue):
    response = client_for(agent).post("/tickets/next/", follow=True)
    assert "Nothing is waiting in your queues" in response.content.decode()
    assert not Ticket.objects.exists()
