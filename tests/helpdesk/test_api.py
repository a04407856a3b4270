"""The help desk API: tickets, their comments and their timeline (API.md).

Access is the pages' access: agents see their queues' tickets; anyone else gets 404 for a
ticket and an empty list; anonymous callers get 401.
"""

import base64
import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from helpdesk import services
from helpdesk.api import TicketSerializer, ticket_list_rows, ticket_list_values
from helpdesk.models import Tag, Ticket, TicketEvent
from tests import factories

pytestmark = pytest.mark.django_db

TICKET_FIELDS = {
    "id",
    "reference",
    "queue",
    "subject",
    "description",
    "status",
    "priority",
    "type",
    "assignee",
    "requester_email",
    "requester_name",
    "project",
    "milestone",
    "tags",
    "source",
    "created_at",
    "updated_at",
    "first_response_due",
    "resolution_due",
    "version",
}
EVENT_FIELDS = {"id", "kind", "body", "public", "author", "author_name", "changes", "created_at"}

# The page of tickets with queue, requester and tag names.
LIST_QUERIES = 1
# The ticket through the access door; its tags.
DETAIL_QUERIES = 2
# The ticket through the access door; the caller's roles; the page of events with authors.
EVENTS_QUERIES = 3


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_user(api):
    """`as_user(user)` → an API client authenticated as `user` (None: anonymous)."""

    def login(user):
        api.force_authenticate(user)
        return api

    return login


@pytest.fixture
def other_queue(outsider):
    return outsider.helpdesk_queues.get()


def url(ticket=None, tail=""):
    if ticket is None:
        return "/api/v1/tickets/"
    pk = ticket if isinstance(ticket, int | str) else ticket.pk
    return f"/api/v1/tickets/{pk}/{tail}"


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def subjects(response):
    return sorted(row["subject"] for row in results(response))


def patch(api, ticket, **body):
    return api.patch(url(ticket), body, format="json")


# --- Access matrix ------------------------------------------------------------------------

DETAIL_ENDPOINTS = [
    pytest.param("get", "", None, id="detail"),
    pytest.param("patch", "", {"version": 1, "status": "open"}, id="patch"),
    pytest.param("post", "comments/", {"body": "Hello", "public": True}, id="comments"),
    pytest.param("get", "events/", None, id="events"),
]


@pytest.mark.parametrize(("method", "tail", "body"), DETAIL_ENDPOINTS)
def test_agent_in_the_queue_may_use_every_ticket_endpoint(
    as_user, agent, ticket, method, tail, body
):
    response = getattr(as_user(agent), method)(url(ticket, tail), body, format="json")
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(("method", "tail", "body"), DETAIL_ENDPOINTS)
@pytest.mark.parametrize("who", ["outsider", "pm", "stakeholder"])
def test_anyone_outside_the_queue_gets_404_from_every_ticket_endpoint(
    request, as_user, ticket, who, method, tail, body
):
    user = request.getfixturevalue(who)
    response = getattr(as_user(user), method)(url(ticket, tail), body, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such ticket"}
    ticket.refresh_from_db()
    assert ticket.version == 1
    assert ticket.events.count() == 0


@pytest.mark.parametrize(("method", "tail", "body"), DETAIL_ENDPOINTS)
def test_anonymous_callers_get_401_from_every_ticket_endpoint(api, ticket, method, tail, body):
    response = getattr(api, method)(url(ticket, tail), body, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_callers_get_401_from_the_list_and_create(api, queue):
    assert api.get(url()).status_code == 401
    assert api.post(url(), {"queue": queue.pk}, format="json").status_code == 401


def test_a_missing_ticket_reads_exactly_like_one_you_may_not_see(as_user, outsider, ticket):
    client = as_user(outsider)
    hidden = client.get(url(ticket))
    missing = client.get(url(ticket.pk + 1000))
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("who", ["outsider", "pm", "stakeholder"])
def test_the_list_is_empty_for_anyone_outside_the_queue(request, as_user, ticket, who):
    assert results(as_user(request.getfixturevalue(who)).get(url())) == []


def test_the_list_shows_an_agent_only_their_queues_tickets(as_user, agent, ticket, other_queue):
    factories.TicketFactory(queue=other_queue, subject="Someone else's")
    assert [row["id"] for row in results(as_user(agent).get(url()))] == [ticket.pk]


def test_an_administrator_sees_every_queue(as_user, admin, ticket, other_queue):
    other = factories.TicketFactory(queue=other_queue)
    assert {row["id"] for row in results(as_user(admin).get(url()))} == {ticket.pk, other.pk}


def test_a_reader_who_is_not_an_agent_may_read_but_not_write(as_user, stakeholder, queue, ticket):
    # A queue member without the agent role (say, a team lead who only watches) reads the
    # ticket and its public timeline; every write is 403 and internal notes stay hidden.
    queue.members.add(stakeholder)
    services.ticket_reply(ticket=ticket, author=None, body="Internal: caller is VIP", public=False)
    services.ticket_reply(ticket=ticket, author=None, body="We are on it", public=True)
    client = as_user(stakeholder)
    assert client.get(url(ticket)).status_code == 200
    assert [e["body"] for e in results(client.get(url(ticket, "events/")))] == ["We are on it"]
    assert patch(client, ticket, version=1, status="open").status_code == 403
    comment = client.post(url(ticket, "comments/"), {"body": "x", "public": True}, format="json")
    assert comment.status_code == 403
    create = client.post(
        url(), {"queue": queue.pk, "subject": "s", "requester_email": "a@b.org"}, format="json"
    )
    assert create.status_code == 403


@pytest.mark.parametrize("who", ["pm", "stakeholder"])
def test_non_agents_may_not_open_tickets(request, as_user, queue, who):
    body = {"queue": queue.pk, "subject": "Hi", "requester_email": "caller@example.org"}
    response = as_user(request.getfixturevalue(who)).post(url(), body, format="json")
    assert response.status_code == 403
    assert Ticket.objects.count() == 0


def test_token_authentication_works(api, agent, ticket):
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    assert [row["id"] for row in results(api.get(url()))] == [ticket.pk]
    assert patch(api, ticket, version=1, priority="P1").status_code == 200


def test_a_bad_token_gets_401(api, ticket):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(url(ticket)).status_code == 401


def test_session_authentication_works(client_for, agent, ticket):
    client = client_for(agent)
    assert client.get(url(ticket)).json()["id"] == ticket.pk
    response = client.patch(
        url(ticket), json.dumps({"version": 1, "priority": "P2"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["priority"] == "P2"


def test_session_writes_need_the_csrf_token(agent, ticket):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.patch(url(ticket), {"version": 1, "priority": "P1"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.priority == "P3"


def test_the_requesters_secret_link_never_appears_in_the_api(as_user, agent, ticket):
    client = as_user(agent)
    services.ticket_reply(ticket=ticket, author=agent, body="Done", public=True)
    for path in (url(), url(ticket), url(ticket, "events/")):
        response = client.get(path)
        assert response.status_code == 200
        assert ticket.secret not in response.content.decode()


# --- Reading tickets -----------------------------------------------------------------------


def test_a_ticket_shows_the_contract_fields(as_user, agent, queue, requester, project):
    milestone = factories.MilestoneFactory(project=project)
    ticket = factories.TicketFactory(
        queue=queue,
        requester=requester,
        subject="VPN drops",
        assignee=agent,
        project=project,
        milestone=milestone,
    )
    ticket.tags.add(Tag.objects.create(name="vpn"))
    body = as_user(agent).get(url(ticket)).json()
    assert set(body) == TICKET_FIELDS
    assert body["reference"] == f"SD-{ticket.number}"
    assert body["queue"] == queue.pk
    assert body["assignee"] == agent.pk
    assert body["project"] == project.pk
    assert body["milestone"] == milestone.pk
    assert body["tags"] == ["vpn"]
    assert body["requester_email"] == "caller@example.org"
    assert body["requester_name"] == "Casey Caller"
    assert body["version"] == 1
    assert results(as_user(agent).get(url())) == [body]


def test_the_list_is_cursor_paginated_newest_first(as_user, agent, queue):
    tickets = factories.TicketFactory.create_batch(5, queue=queue)
    client = as_user(agent)
    first = client.get(url(), {"page_size": 3}).json()
    assert set(first) == {"next", "previous", "results"}
    assert [row["id"] for row in first["results"]] == [t.pk for t in tickets[:1:-1]]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [tickets[1].pk, tickets[0].pk]
    assert second["next"] is None
    assert second["previous"] is not None


@pytest.mark.parametrize("rows", [1, 50])
def test_the_list_runs_a_constant_number_of_queries(
    as_user, agent, queue, project, rows, django_assert_num_queries
):
    milestone = factories.MilestoneFactory(project=project)
    tags = [Tag.objects.create(name="vpn"), Tag.objects.create(name="printer")]
    for ticket in factories.TicketFactory.create_batch(
        rows, queue=queue, assignee=agent, project=project, milestone=milestone
    ):
        ticket.tags.add(*tags)
    client = as_user(agent)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(url())
    assert len(results(response)) == rows
    assert results(response)[0]["tags"] == ["printer", "vpn"]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_lean_list_rows_equal_the_serializer_field_for_field(agent, queue, project, zone):
    """The list builds its rows from values for speed; a client must not see a difference
    from the ticket's own representation (GET /tickets/{id}/), whatever the data."""
    milestone = factories.MilestoneFactory(project=project)
    bare = factories.TicketFactory(queue=queue, assignee=None, requester__name="")
    bare.first_response_due = bare.resolution_due = None
    bare.save(update_fields=["first_response_due", "resolution_due"])
    linked = factories.TicketFactory(
        queue=queue,
        assignee=agent,
        project=project,
        milestone=milestone,
        subject='<script>alert("x")</script> Ünïcode ✓',
        description="line one\nline two",
        status=Ticket.Status.PENDING,
        priority="P1",
    )
    linked.tags.add(Tag.objects.create(name="vpn"), Tag.objects.create(name="a-first"))
    # Whole seconds are written without a fraction; the night a clock changes, as any.
    linked.resolution_due = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    linked.first_response_due = datetime(2026, 3, 8, 6, 59, 59, 999_999, tzinfo=UTC)
    linked.save(update_fields=["resolution_due", "first_response_due"])
    tickets = Ticket.objects.filter(pk__in=[bare.pk, linked.pk]).order_by("id")
    with timezone.override(zone):
        expected = [dict(row) for row in TicketSerializer(tickets, many=True).data]
        assert ticket_list_rows(ticket_list_values(tickets)) == expected
    assert expected[1]["tags"] == ["a-first", "vpn"]
    assert expected[0]["tags"] == []
    assert expected[0]["resolution_due"] is None
    assert "." not in expected[1]["resolution_due"]
    assert ".999999" in expected[1]["first_response_due"]


@pytest.mark.parametrize("tags", [1, 20])
def test_a_ticket_runs_a_constant_number_of_queries(
    as_user, agent, ticket, tags, django_assert_num_queries
):
    ticket.tags.add(*(Tag.objects.create(name=f"tag-{n}") for n in range(tags)))
    client = as_user(agent)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(url(ticket))
    assert len(response.json()["tags"]) == tags


# --- Filters -------------------------------------------------------------------------------


def test_filter_by_queue_id_and_slug(as_user, admin, queue, other_queue):
    factories.TicketFactory(queue=queue, subject="Ours")
    factories.TicketFactory(queue=other_queue, subject="Theirs")
    client = as_user(admin)
    assert subjects(client.get(url(), {"queue": queue.pk})) == ["Ours"]
    assert subjects(client.get(url(), {"queue_slug": "elsewhere"})) == ["Theirs"]


def test_filtering_on_a_queue_you_cannot_see_answers_nothing(as_user, agent, queue, other_queue):
    factories.TicketFactory(queue=other_queue, subject="Theirs")
    assert results(as_user(agent).get(url(), {"queue": other_queue.pk})) == []


def test_filter_by_status_priority_and_type(as_user, agent, queue):
    factories.TicketFactory(queue=queue, subject="New P1", priority="P1")
    factories.TicketFactory(queue=queue, subject="Pending", status="pending", type="request")
    factories.TicketFactory(queue=queue, subject="Closed", status="closed")
    client = as_user(agent)
    assert subjects(client.get(url(), {"status": "pending"})) == ["Pending"]
    assert subjects(client.get(url(), {"status": ["new", "closed"]})) == ["Closed", "New P1"]
    assert subjects(client.get(url(), {"priority": "P1"})) == ["New P1"]
    assert subjects(client.get(url(), {"type": "request"})) == ["Pending"]


def test_filter_by_assignee_me_none_and_id(as_user, agent, queue):
    colleague = factories.AgentFactory(username="colleague")
    queue.members.add(colleague)
    factories.TicketFactory(queue=queue, subject="Mine", assignee=agent)
    factories.TicketFactory(queue=queue, subject="Colleague's", assignee=colleague)
    factories.TicketFactory(queue=queue, subject="Nobody's")
    client = as_user(agent)
    assert subjects(client.get(url(), {"assignee": "me"})) == ["Mine"]
    assert subjects(client.get(url(), {"assignee": "none"})) == ["Nobody's"]
    assert subjects(client.get(url(), {"assignee": colleague.pk})) == ["Colleague's"]


def test_filter_by_project_milestone_and_tag(as_user, agent, queue, project):
    milestone = factories.MilestoneFactory(project=project)
    factories.TicketFactory(queue=queue, subject="Project only", project=project)
    factories.TicketFactory(queue=queue, subject="Milestone", project=project, milestone=milestone)
    tagged = factories.TicketFactory(queue=queue, subject="Tagged")
    tagged.tags.add(Tag.objects.create(name="vpn-issue"))
    client = as_user(agent)
    assert subjects(client.get(url(), {"project": project.pk})) == ["Milestone", "Project only"]
    assert subjects(client.get(url(), {"milestone": milestone.pk})) == ["Milestone"]
    assert subjects(client.get(url(), {"tag": "vpn-issue"})) == ["Tagged"]
    # Tags are stored slugified, so the filter reads a name the same way.
    assert subjects(client.get(url(), {"tag": "VPN issue"})) == ["Tagged"]
    assert results(client.get(url(), {"tag": "nothing-like-it"})) == []


def searchable(queue, subject, description=""):
    ticket = factories.TicketFactory(queue=queue, subject=subject, description=description)
    services.ticket_refresh_search(ticket.pk)
    return ticket


def test_search_finds_words_in_subject_description_and_replies(as_user, agent, queue):
    searchable(queue, "Printer jams on floor 3")
    searchable(queue, "Cannot log in", "Laptop shows a printer error after login")
    replied = searchable(queue, "Slow network")
    services.ticket_reply(ticket=replied, author=agent, body="Rebooted the router", public=True)
    searchable(queue, "Unrelated")
    client = as_user(agent)
    assert subjects(client.get(url(), {"search": "printers"})) == [
        "Cannot log in",
        "Printer jams on floor 3",
    ]
    assert subjects(client.get(url(), {"search": "router"})) == ["Slow network"]


def test_search_understands_web_search_syntax(as_user, agent, queue):
    searchable(queue, "Printer jams", "paper jam in tray two")
    searchable(queue, "Printer toner empty")
    client = as_user(agent)
    assert subjects(client.get(url(), {"search": "printer -toner"})) == ["Printer jams"]
    assert subjects(client.get(url(), {"search": '"tray two"'})) == ["Printer jams"]
    assert subjects(client.get(url(), {"search": "toner or jams"})) == [
        "Printer jams",
        "Printer toner empty",
    ]


@pytest.mark.parametrize("text", ['"unclosed', "&&& | !!! ((", "-", "'; DROP TABLE x; --", "ü€😀"])
def test_search_takes_any_text_without_failing(as_user, agent, queue, text):
    searchable(queue, "Printer jams")
    assert as_user(agent).get(url(), {"search": text}).status_code == 200


def test_search_combines_with_other_filters(as_user, agent, queue):
    searchable(queue, "Printer jams")
    closed = searchable(queue, "Printer fixed")
    Ticket.objects.filter(pk=closed.pk).update(status="closed")
    response = as_user(agent).get(url(), {"search": "printer", "status": "closed"})
    assert subjects(response) == ["Printer fixed"]


# --- Bad input on the list -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "nope"),
        ("priority", "P9"),
        ("type", "complaint"),
        ("queue", "abc"),
        ("queue", "0"),
        ("queue", str(10**30)),
        ("project", "-1"),
        ("milestone", "1.5"),
        ("assignee", "someone"),
        ("assignee", str(10**30)),
        ("search", "x" * 501),
        ("search", "nul\x00byte"),
        ("tag", "t" * 101),
    ],
)
def test_an_unreadable_filter_is_a_400_naming_it(as_user, agent, ticket, param, value):
    response = as_user(agent).get(url(), {param: value})
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_a_huge_page_size_is_capped(as_user, agent, queue):
    factories.TicketFactory.create_batch(3, queue=queue)
    response = as_user(agent).get(url(), {"page_size": str(10**12)})
    assert len(results(response)) == 3


@pytest.mark.parametrize("page_size", ["abc", "-5", "0", ""])
def test_an_unreadable_page_size_falls_back_to_the_default(as_user, agent, ticket, page_size):
    assert len(results(as_user(agent).get(url(), {"page_size": page_size}))) == 1


def forged_cursor(querystring):
    return base64.b64encode(querystring.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "é",
        forged_cursor("o=abc"),
        forged_cursor("p=abc"),
        forged_cursor("p=1e400"),
        forged_cursor(f"p={10**30}"),
        forged_cursor("r=x&p=5"),
    ],
)
@pytest.mark.parametrize("tail", ["", "events/"])
def test_a_bad_cursor_is_refused_cleanly(as_user, agent, ticket, cursor, tail):
    path = url() if tail == "" else url(ticket, tail)
    response = as_user(agent).get(path, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor"]}


@pytest.mark.parametrize("pk", ["abc", "0", "-1", str(10**30), "١٢"])
def test_an_unreadable_ticket_id_is_a_json_404(as_user, agent, ticket, pk):
    response = as_user(agent).get(f"/api/v1/tickets/{pk}/")
    assert response.status_code == 404
    assert "detail" in response.json()


# --- Creating tickets ------------------------------------------------------------------------


def test_an_agent_opens_a_ticket_for_a_caller(as_user, agent, queue):
    body = {
        "queue": queue.pk,
        "subject": "  Phone   line dead ",
        "description": "Since this morning",
        "requester_email": "Caller@Example.org",
        "requester_name": "Casey Caller",
        "priority": "P2",
        "type": "incident",
    }
    response = as_user(agent).post(url(), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    ticket = Ticket.objects.get()
    assert response["Location"] == url(ticket)
    assert set(data) == TICKET_FIELDS
    assert data["reference"] == f"SD-{ticket.number}"
    assert data["subject"] == "Phone line dead"
    assert data["source"] == "api"
    assert data["priority"] == "P2"
    assert data["status"] == "new"
    assert data["requester_email"] == "caller@example.org"
    created = ticket.events.get()
    assert (created.kind, created.author) == (TicketEvent.Kind.CREATED, agent)


def test_opening_a_ticket_needs_only_queue_subject_and_caller(as_user, agent, queue):
    body = {"queue": queue.pk, "subject": "Help", "requester_email": "c@example.org"}
    data = as_user(agent).post(url(), body, format="json").json()
    assert (data["priority"], data["type"], data["description"]) == ("P3", "incident", "")


def test_opening_a_ticket_in_a_queue_you_do_not_work_in_is_a_400(as_user, agent, other_queue):
    body = {"queue": other_queue.pk, "subject": "Hi", "requester_email": "c@example.org"}
    response = as_user(agent).post(url(), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["queue"]
    assert not Ticket.objects.exists()


GOOD_NEW_TICKET = {"subject": "Hi", "requester_email": "c@example.org"}


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"queue": 999_999}, ["queue"]),
        ({"queue": "abc"}, ["queue"]),
        ({"queue": 10**30}, ["queue"]),
        ({"queue": None}, ["queue"]),
        ({"queue": True}, ["queue"]),
        ({"queue": [1]}, ["queue"]),
        ({"subject": ""}, ["subject"]),
        ({"subject": "   "}, ["subject"]),
        ({"subject": {"a": 1}}, ["subject"]),
        ({"subject": "s" * 256}, ["subject"]),
        ({"subject": "nul\x00byte"}, ["subject"]),
        ({"requester_email": "not an address"}, ["requester_email"]),
        ({"requester_email": 42}, ["requester_email"]),
        ({"priority": "P9"}, ["priority"]),
        ({"priority": ["P1"]}, ["priority"]),
        ({"type": "complaint"}, ["type"]),
        ({"description": "d" * 100_001}, ["description"]),
        ({"requester_name": "n" * 201}, ["requester_name"]),
        ({"status": "closed"}, ["status"]),
        ({"colour": "red"}, ["colour"]),
    ],
)
def test_a_bad_new_ticket_is_a_400_naming_the_field(as_user, agent, queue, changes, fields):
    body = {"queue": queue.pk, **GOOD_NEW_TICKET, **changes}
    response = as_user(agent).post(url(), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert not Ticket.objects.exists()


def test_a_new_ticket_missing_everything_names_every_required_field(as_user, agent):
    response = as_user(agent).post(url(), {}, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == ["queue", "requester_email", "subject"]


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null", "{not json"])
def test_a_body_that_is_not_a_json_object_is_a_400(as_user, agent, queue, payload):
    response = as_user(agent).post(url(), payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


# --- Changing tickets ------------------------------------------------------------------------


def test_an_agent_changes_a_ticket_at_its_current_version(as_user, agent, ticket):
    colleague = factories.AgentFactory(username="colleague")
    ticket.queue.members.add(colleague)
    response = patch(
        as_user(agent),
        ticket,
        version=1,
        status="pending",
        priority="P1",
        type="problem",
        assignee=colleague.pk,
        tags=["VPN issue", "printer"],
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["version"] == 2
    assert (data["status"], data["priority"], data["type"]) == ("pending", "P1", "problem")
    assert data["assignee"] == colleague.pk
    assert data["tags"] == ["printer", "vpn-issue"]
    kinds = sorted(ticket.events.values_list("kind", flat=True))
    assert kinds == ["assignment", "change", "change", "change", "status"]


def test_unassigning_with_null(as_user, agent, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(assignee=agent)
    data = patch(as_user(agent), ticket, version=1, assignee=None).json()
    assert data["assignee"] is None


def test_a_stale_version_is_a_409_that_changes_nothing(as_user, agent, ticket):
    client = as_user(agent)
    seen = client.get(url(ticket)).json()
    # Meanwhile a colleague changes the ticket.
    services.ticket_update(ticket=ticket, actor=agent, version=1, status="open")
    events_before = ticket.events.count()

    response = patch(client, ticket, version=seen["version"], priority="P1", tags=["urgent"])

    assert response.status_code == 409
    body = response.json()
    assert "version 1" in body["detail"]
    assert "version 2" in body["detail"]
    assert body["current"]["version"] == 2
    assert body["current"]["status"] == "open"
    assert body["current"]["priority"] == "P3"
    assert set(body["current"]) == TICKET_FIELDS
    ticket.refresh_from_db()
    assert (ticket.version, ticket.priority, ticket.status) == (2, "P3", "open")
    assert list(ticket.tags.all()) == []
    assert ticket.events.count() == events_before
    # The client reapplies its change to the version it was given, and it goes through.
    retried = patch(client, ticket, version=body["current"]["version"], priority="P1")
    assert retried.status_code == 200
    assert (retried.json()["priority"], retried.json()["version"]) == ("P1", 3)


def test_a_version_from_the_future_is_a_409_too(as_user, agent, ticket):
    assert patch(as_user(agent), ticket, version=7, priority="P1").status_code == 409


def test_a_patch_without_a_version_is_a_400_naming_it(as_user, agent, ticket):
    response = patch(as_user(agent), ticket, status="open")
    assert response.status_code == 400
    assert response.json() == {"version": ["This field is required."]}
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_assigning_someone_outside_the_queue_is_a_400(as_user, agent, outsider, ticket):
    for assignee in (outsider.pk, 999_999):
        response = patch(as_user(agent), ticket, version=1, assignee=assignee)
        assert response.status_code == 400
        assert response.json() == {"assignee": [f"User {assignee} is not an agent of this queue."]}
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.version) == (None, 1)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"version": "abc"}, ["version"]),
        ({"version": 0}, ["version"]),
        ({"version": 2.5}, ["version"]),
        ({"version": True}, ["version"]),
        ({"version": 10**30}, ["version"]),
        ({"version": None}, ["version"]),
        ({"version": 1, "status": "exploded"}, ["status"]),
        ({"version": 1, "status": ["open"]}, ["status"]),
        ({"version": 1, "priority": "urgent"}, ["priority"]),
        ({"version": 1, "type": 3}, ["type"]),
        ({"version": 1, "assignee": "abc"}, ["assignee"]),
        ({"version": 1, "assignee": 10**30}, ["assignee"]),
        ({"version": 1, "assignee": {"id": 1}}, ["assignee"]),
        ({"version": 1, "tags": "vpn"}, ["tags"]),
        ({"version": 1, "tags": [{"name": "vpn"}]}, ["tags"]),
        ({"version": 1, "tags": ["!!!"]}, ["tags"]),
        ({"version": 1, "tags": ["t" * 51]}, ["tags"]),
        ({"version": 1, "tags": [f"t{n}" for n in range(51)]}, ["tags"]),
        ({"version": 1, "subject": "Renamed"}, ["subject"]),
        ({"version": 1, "reference": "SD-1"}, ["reference"]),
        ({"version": 1, "colour": "red"}, ["colour"]),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field(as_user, agent, ticket, body, fields):
    response = as_user(agent).patch(url(ticket), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    ticket.refresh_from_db()
    assert ticket.version == 1
    assert ticket.events.count() == 0


def test_a_read_only_field_says_so(as_user, agent, ticket):
    response = patch(as_user(agent), ticket, version=1, subject="Renamed", colour="red")
    assert response.json() == {
        "colour": ["Unknown field."],
        "subject": ["This field cannot be set here."],
    }


def test_linking_a_ticket_to_a_project_and_milestone(as_user, agent, ticket, project):
    milestone = factories.MilestoneFactory(project=project)
    client = as_user(agent)
    # A milestone alone brings its project along.
    data = patch(client, ticket, version=1, milestone=milestone.pk).json()
    assert (data["project"], data["milestone"], data["version"]) == (project.pk, milestone.pk, 2)
    # Another project drops a milestone that is not its own.
    other = factories.ProjectFactory()
    data = patch(client, ticket, version=2, project=other.pk).json()
    assert (data["project"], data["milestone"]) == (other.pk, None)
    # Null unlinks.
    data = patch(client, ticket, version=3, project=None).json()
    assert (data["project"], data["milestone"]) == (None, None)
    changes = [e.changes for e in ticket.events.filter(kind="change")]
    assert changes[0] == {"project": [None, project.pk], "milestone": [None, milestone.pk]}


def test_unlinking_only_the_milestone_keeps_the_project(as_user, agent, ticket, project):
    milestone = factories.MilestoneFactory(project=project)
    services.ticket_link(ticket=ticket, actor=agent, project=project, milestone=milestone)
    data = patch(as_user(agent), ticket, version=2, milestone=None).json()
    assert (data["project"], data["milestone"]) == (project.pk, None)


def test_a_refused_link_undoes_the_whole_change(as_user, agent, ticket, project):
    elsewhere = factories.MilestoneFactory()
    response = patch(
        as_user(agent),
        ticket,
        version=1,
        status="pending",
        project=project.pk,
        milestone=elsewhere.pk,
    )
    assert response.status_code == 400
    assert response.json() == {"milestone": ["That milestone belongs to another project."]}
    ticket.refresh_from_db()
    assert (ticket.status, ticket.project, ticket.version) == ("new", None, 1)
    assert ticket.events.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project": 999_999}, "project"),
        ({"project": "VPN"}, "project"),
        ({"milestone": 999_999}, "milestone"),
        ({"project": None, "milestone": "MILESTONE"}, "milestone"),
    ],
)
def test_a_bad_link_is_a_400_naming_the_field(as_user, agent, ticket, project, body, field):
    response = patch(as_user(agent), ticket, version=1, **body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_milestone_without_its_project_is_refused(as_user, agent, ticket, project):
    milestone = factories.MilestoneFactory(project=project)
    response = patch(as_user(agent), ticket, version=1, project=None, milestone=milestone.pk)
    assert response.json() == {"milestone": ["A milestone cannot be linked without its project."]}


def test_a_stale_version_does_not_link_either(as_user, agent, ticket, project):
    services.ticket_update(ticket=ticket, actor=agent, version=1, priority="P1")
    assert patch(as_user(agent), ticket, version=1, project=project.pk).status_code == 409
    ticket.refresh_from_db()
    assert ticket.project is None


@pytest.mark.parametrize("path", ["", "1/", "1/events/", "1/comments/"])
def test_options_describe_the_endpoints_without_failing(as_user, agent, ticket, path):
    response = as_user(agent).options(url() + path.replace("1", str(ticket.pk)))
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["put", "delete"])
def test_tickets_are_neither_replaced_nor_deleted(as_user, agent, ticket, method):
    response = getattr(as_user(agent), method)(url(ticket), {"version": 1}, format="json")
    assert response.status_code == 405
    assert Ticket.objects.filter(pk=ticket.pk).exists()


# --- Comments ------------------------------------------------------------------------------


def test_a_public_comment_is_a_reply_to_the_caller(
    as_user, agent, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_user(agent).post(
            url(ticket, "comments/"), {"body": "Try turning it off", "public": True}, format="json"
        )
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == EVENT_FIELDS
    assert (data["kind"], data["public"], data["body"]) == ("reply", True, "Try turning it off")
    assert data["author"] == agent.pk
    event = TicketEvent.objects.get(pk=data["id"])
    assert (event.kind, event.public, event.author) == ("reply", True, agent)
    ticket.refresh_from_db()
    assert ticket.status == "open"  # the first reply opens a new ticket
    assert len(callbacks) == 1  # the e-mail to the caller, sent after commit


def test_a_private_comment_is_an_internal_note(
    as_user, agent, ticket, django_capture_on_commit_callbacks
):
    client = as_user(agent)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            url(ticket, "comments/"), {"body": "Caller is the CFO", "public": False}, format="json"
        )
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["public"]) == ("note", False)
    assert callbacks == []  # nothing is sent to anyone
    ticket.refresh_from_db()
    assert ticket.status == "new"
    timeline = results(client.get(url(ticket, "events/")))
    assert [(e["kind"], e["public"], e["body"]) for e in timeline] == [
        ("note", False, "Caller is the CFO")
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body", "public"]),
        ({"body": "Hello"}, ["public"]),
        ({"body": "", "public": True}, ["body"]),
        ({"body": "   \n ", "public": True}, ["body"]),
        ({"body": ["Hello"], "public": True}, ["body"]),
        ({"body": "b" * 100_001, "public": True}, ["body"]),
        ({"body": "Hello", "public": "maybe"}, ["public"]),
        ({"body": "Hello", "public": None}, ["public"]),
        ({"body": "Hello", "public": True, "kind": "system"}, ["kind"]),
    ],
)
def test_a_bad_comment_is_a_400_naming_the_field(as_user, agent, ticket, body, fields):
    response = as_user(agent).post(url(ticket, "comments/"), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert ticket.events.count() == 0


# --- The timeline --------------------------------------------------------------------------


def test_the_timeline_lists_every_event_oldest_first(as_user, agent, queue):
    client = as_user(agent)
    created = client.post(
        url(),
        {"queue": queue.pk, "subject": "Printer", "requester_email": "c@example.org"},
        format="json",
    ).json()
    ticket = Ticket.objects.get(pk=created["id"])
    client.post(url(ticket, "comments/"), {"body": "Note", "public": False}, format="json")
    # A comment moves the version on too: whoever edits next must have seen it.
    version = client.get(url(ticket)).json()["version"]
    assert version == 2
    assert patch(client, ticket, version=version, status="pending").status_code == 200
    services.ticket_reply_from_requester(ticket=ticket, body="It works now")
    timeline = results(client.get(url(ticket, "events/")))
    assert all(set(e) == EVENT_FIELDS for e in timeline)
    assert [e["kind"] for e in timeline] == ["created", "note", "status", "reply", "status"]
    assert timeline[2]["changes"] == {"status": ["new", "pending"]}
    assert timeline[1]["author_name"] == agent.get_full_name()
    # The caller's reply has no agent as author; it has the caller's name, or address.
    assert (timeline[3]["author"], timeline[3]["author_name"]) == (None, "c@example.org")
    assert timeline[3]["public"] is True


def test_the_timeline_is_cursor_paginated(as_user, agent, ticket):
    events = factories.TicketEventFactory.create_batch(5, ticket=ticket)
    client = as_user(agent)
    first = client.get(url(ticket, "events/"), {"page_size": 3}).json()
    assert [e["id"] for e in first["results"]] == [e.pk for e in events[:3]]
    second = client.get(first["next"]).json()
    assert [e["id"] for e in second["results"]] == [e.pk for e in events[3:]]
    assert second["next"] is None


@pytest.mark.parametrize("events", [1, 50])
def test_the_timeline_runs_a_constant_number_of_queries(
    as_user, agent, ticket, requester, events, django_assert_num_queries
):
    factories.TicketEventFactory.create_batch(events, ticket=ticket, author=agent)
    factories.TicketEventFactory.create_batch(events, ticket=ticket, author_contact=requester)
    client = as_user(agent)
    with django_assert_num_queries(EVENTS_QUERIES):
        response = client.get(url(ticket, "events/"), {"page_size": 200})
    assert len(results(response)) == 2 * events


# --- The schema ----------------------------------------------------------------------------


def test_the_schema_describes_the_ticket_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/tickets/"])
    assert {"get", "patch"} <= set(paths["/api/v1/tickets/{id}/"])
    assert "post" in paths["/api/v1/tickets/{id}/comments/"]
    assert "get" in paths["/api/v1/tickets/{id}/events/"]
    filters = {p["name"] for p in paths["/api/v1/tickets/"]["get"]["parameters"]}
    assert {"queue", "status", "priority", "assignee", "project", "milestone", "tag"} <= filters
    assert "search" in filters
    assert "409" in paths["/api/v1/tickets/{id}/"]["patch"]["responses"]
