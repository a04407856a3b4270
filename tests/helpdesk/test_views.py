import pytest

from tests import factories

pytestmark = pytest.mark.django_db

# session, user, the user's roles, the queues with open counts, the page of tickets
TRIAGE_QUERIES = 5
# session, user, roles, the ticket with its queue and people, its events
TICKET_QUERIES = 5


@pytest.mark.parametrize("rows", [1, 40])
def test_triage_runs_a_constant_number_of_queries(
    client_for, agent, queue, rows, django_assert_num_queries
):
    factories.TicketFactory.create_batch(rows, queue=queue, assignee=agent)
    client = client_for(agent)
    with django_assert_num_queries(TRIAGE_QUERIES):
        response = client.get("/tickets/")
    assert len(response.context["tickets"]) == rows


def test_triage_pages_by_keyset(client_for, agent, queue):
    tickets = factories.TicketFactory.create_batch(55, queue=queue)
    client = client_for(agent)
    first = client.get("/tickets/")
    assert len(first.context["tickets"]) == 50
    assert first.context["next_query"] == f"after={tickets[5].pk}"
    second = client.get("/tickets/?" + first.context["next_query"])
    assert [t.pk for t in second.context["tickets"]] == [t.pk for t in reversed(tickets[:5])]
    assert second.context["next_query"] == ""


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
    response = client_for(agent).get("/tickets/")
    assert [(q.slug, q.open_count) for q in response.context["queues"]] == [("service-desk", 3)]


@pytest.mark.parametrize("events", [1, 30])
def test_ticket_page_runs_a_constant_number_of_queries(
    client_for, agent, ticket, events, django_assert_num_queries
):
    factories.TicketEventFactory.create_batch(events, ticket=ticket, author=agent)
    client = client_for(agent)
    with django_assert_num_queries(TICKET_QUERIES):
        response = client.get(f"/tickets/{ticket.pk}/")
    assert len(response.context["events"]) == events


@pytest.mark.parametrize("events", [1, 30])
def test_requester_page_runs_a_constant_number_of_queries(
    client, ticket, events, django_assert_num_queries
):
    factories.TicketEventFactory.create_batch(events, ticket=ticket)
    # the ticket with its queue, requester and project; its public events
    with django_assert_num_queries(2):
        response = client.get(f"/t/{ticket.secret}/")
    assert response.status_code == 200


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
