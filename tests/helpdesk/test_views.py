import pytest

from tests import factories

pytestmark = pytest.mark.django_db

# session, user, the user's roles, the queues with open counts, the page of tickets
TRIAGE_QUERIES = 5
# session, user, roles, the ticket with its queue and people, its events
TICKET_QUERIES = 5


def test_triage_filters_by_status_and_assignee(client_for, agent, queue):
    mine = factories.TicketFactory(queue=queue, assignee=agent, subject="Mine")
    factories.TicketFactory(queue=queue, subject="Nobody's")
    factories.TicketFactory(queue=queue, status="closed", subject="Done and dusted")
    client = client_for(agent)
    assert [t.subject for t in client.get("/tickets/?assignee=me").context["tickets"]] == [
        mine.subject
    ]
    unassigned = client.get("/tickets/?assignee=none").context["tickets"]
    assert [t.subject for t in unassigned] == ["Nobody's"]
    closed = client.get("/tickets/?status=closed").context["tickets"]
    assert [t.subject for t in closed] == ["Done and dusted"]
    # "open" is the status Open; all statuses that still need work is the default.
    factories.TicketFactory(queue=queue, status="pending", subject="Waiting on caller")
    only_open = client.get("/tickets/?status=open").context["tickets"]
    assert "Waiting on caller" not in [t.subject for t in only_open]
    active = client.get("/tickets/").context["tickets"]
    assert "Waiting on caller" in [t.subject for t in active]


def test_triage_shows_open_counts_per_queue(client_for, agent, queue):
    factories.TicketFactory.create_batch(3, queue=queue)
    factories.TicketFactory(queue=queue, status="resolved")
    page = client_for(agent).get("/tickets/").content.decode()
    # The page asks for the counts as soon as it is shown, then every 30 s.
    assert 'hx-trigger="load, every 30s"' in page and "3 open" not in page
    response = client_for(agent).get("/tickets/?fragment=counts", headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert fragment.strip().startswith('<ul class="queue-list" id="queue-counts"')
    assert 'aria-label="3 open"' in fragment and 'hx-trigger="every 30s"' in fragment


def test_user_text_is_sanitised_on_the_ticket_page(client_for, agent, ticket):
    factories.TicketEventFactory(
        ticket=ticket,
        author=agent,
        body='**Restart** it <script>alert("x")</script> [x](javascript:alert(1))',
    )
    page = client_for(agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<strong>Restart</strong>" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page
