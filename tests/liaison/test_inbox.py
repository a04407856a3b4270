"""The liaison's inbox (/liaison/): their projects with health and next milestone, the
questions the help desk asked them, the open tickets linked to their projects, and the
work the plan gives them. Agents only; a constant number of queries.

The fixtures here (`liaison`, `desk_project`, `pm_other`, `member`, `ask`, `promise`) are
shared by the ledger and help desk page tests, which import them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.models import Ticket
from liaison.models import Promise, Question
from projects.models import Milestone
from tests import factories
from tests.projects import page_factories as pf

pytestmark = pytest.mark.django_db


# --- The cast ---------------------------------------------------------------------------


@pytest.fixture
def liaison(agent):
    """The project's liaison: the `agent` of the shared cast, a member of `queue`."""
    agent.first_name, agent.last_name = "Lee", "Liaison"
    agent.save()
    return agent


@pytest.fixture
def desk_project(project, liaison, queue):
    """The VPN project (owner `pm`), with `liaison` named and `queue` affected."""
    project.liaison = liaison
    project.save(update_fields=["liaison"])
    queue.projects.add(project)
    return project


@pytest.fixture
def pm_other(db):
    """A project manager who neither owns the project nor is on its team."""
    return factories.ProjectManagerFactory(username="pm-other")


@pytest.fixture
def member(desk_project):
    """An agent on the project team (a member, not the liaison)."""
    person = factories.AgentFactory(username="member")
    desk_project.members.add(person)
    return person


@pytest.fixture
def ask(queue, requester):
    """`ask(project, text, due_in=timedelta)` → a Question raised from a new linked ticket."""

    def make(project, text="Does the new client work on Linux?", due_in=timedelta(hours=4), **kw):
        ticket = kw.pop("ticket", None) or factories.TicketFactory(
            queue=queue, requester=requester, project=project, subject="VPN question"
        )
        return Question.objects.create(
            ticket=ticket,
            project=project,
            text=text,
            asked_by=kw.pop("asked_by", None),
            due_at=timezone.now() + due_in,
            **kw,
        )

    return make


@pytest.fixture
def promise(queue):
    """`promise(milestone, promised_date, ticket=None, **fields)` → a Promise on a new
    linked ticket (a new caller each) unless one is given."""

    def make(milestone, promised_date, ticket=None, **fields):
        ticket = ticket or factories.TicketFactory(
            queue=queue, project=milestone.project, milestone=milestone, subject="When?"
        )
        return Promise.objects.create(
            ticket=ticket, milestone=milestone, promised_date=promised_date, **fields
        )

    return make


def days(n: int):
    return timezone.localdate() + timedelta(days=n)


# --- Who may see the inbox --------------------------------------------------------------


@pytest.mark.parametrize(
    "who, status",
    [
        ("liaison", 200),
        ("outsider", 200),  # any agent has an inbox, empty until they are a liaison
        ("pm", 403),
        ("pm_other", 403),
        ("stakeholder", 403),
        (None, 302),
    ],
)
def test_the_inbox_is_for_agents(client_for, request, desk_project, who, status):
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).get("/liaison/")
    assert response.status_code == status
    if who is None:
        assert response["Location"].startswith("/accounts/login/")
    if status == 403:
        assert "for help desk agents" in response.content.decode()


def test_another_agent_sees_none_of_the_liaisons_projects(client_for, outsider, desk_project):
    response = client_for(outsider).get("/liaison/")
    assert response.context["projects"] == []
    assert "You are not the liaison of any project yet." in response.content.decode()


# --- What it shows ----------------------------------------------------------------------


def test_the_inbox_lists_the_liaisons_projects_with_health_and_next_milestone(
    client_for, liaison, desk_project, queue
):
    desk_project.health = "at_risk"
    desk_project.save(update_fields=["health"])
    factories.MilestoneFactory(project=desk_project, name="Pilot", target_date=days(10))
    factories.MilestoneFactory(project=desk_project, name="Rollout", target_date=days(40))
    factories.MilestoneFactory(
        project=desk_project, name="Done already", completed_at=timezone.now()
    )
    factories.TicketFactory.create_batch(3, queue=queue, project=desk_project)
    factories.ProjectFactory(key="OTHER", name="Not mine")  # another liaison's, or none

    response = client_for(liaison).get("/liaison/")

    (row,) = response.context["projects"]
    assert row == desk_project
    assert row.next_milestone.name == "Pilot"
    assert row.open_tickets == 3
    page = response.content.decode()
    assert "VPN replacement" in page and "At risk" in page and "Pilot" in page
    assert "Not mine" not in page
    assert "/projects/VPN/helpdesk/" in page


def test_questions_come_open_first_soonest_due_first_with_the_overdue_marked(
    client_for, liaison, desk_project, ask
):
    later = ask(desk_project, "Later one", due_in=timedelta(days=2))
    overdue = ask(desk_project, "Overdue one", due_in=timedelta(hours=-3))
    answered = ask(desk_project, "Answered one", due_in=timedelta(hours=-30))
    Question.objects.filter(pk=answered.pk).update(
        answer="Yes.", answered_by=liaison, answered_at=timezone.now()
    )
    elsewhere = factories.ProjectFactory(key="ELSE")
    ask(elsewhere, "Not for this liaison")

    response = client_for(liaison).get("/liaison/")

    assert [q.text for q in response.context["open_questions"]] == ["Overdue one", "Later one"]
    assert [q.overdue for q in response.context["open_questions"]] == [True, False]
    assert response.context["open_question_total"] == 2
    assert response.context["overdue_total"] == 1
    assert [q.pk for q in response.context["answered_questions"]] == [answered.pk]
    page = response.content.decode()
    assert "3 h overdue" in page or "2 h overdue" in page
    assert f"/projects/VPN/helpdesk/#question-{overdue.pk}" in page
    assert "Not for this liaison" not in page
    assert later.pk != overdue.pk


def test_linked_tickets_are_the_open_ones_in_the_liaisons_queues(
    client_for, liaison, desk_project, queue, outsider
):
    mine = factories.TicketFactory(queue=queue, project=desk_project, subject="Cannot connect")
    factories.TicketFactory(
        queue=queue, project=desk_project, subject="Fixed", status=Ticket.Status.RESOLVED
    )
    elsewhere = outsider.helpdesk_queues.get()
    factories.TicketFactory(queue=elsewhere, project=desk_project, subject="Other queue")
    factories.TicketFactory(queue=queue, subject="Not linked")

    response = client_for(liaison).get("/liaison/")

    assert [t.pk for t in response.context["tickets"]] == [mine.pk]
    assert response.context["ticket_total"] == 1
    # The project's row counts every open linked ticket, in whichever queue.
    assert response.context["projects"][0].open_tickets == 2
    page = response.content.decode()
    assert "Cannot connect" in page and "Other queue" not in page and "Not linked" not in page


def test_the_inbox_shows_tasks_and_milestones_given_to_the_liaison(
    client_for, liaison, desk_project, pm
):
    go_live = factories.MilestoneFactory(
        project=desk_project, name="Go live", kind=Milestone.Kind.GO_LIVE, target_date=days(30)
    )
    factories.MilestoneFactory(
        project=desk_project,
        name="Help desk ready",
        kind=Milestone.Kind.HELPDESK_GO_LIVE,
        target_date=days(23),
        owner=liaison,
        paired_go_live=go_live,
    )
    factories.MilestoneFactory(project=desk_project, name="Someone else's", owner=pm)
    pf.TaskFactory(project=desk_project, title="Write the runbook", assignee=liaison)
    pf.TaskFactory(
        project=desk_project, title="Old task", assignee=liaison, completed_at=timezone.now()
    )
    pf.TaskFactory(project=desk_project, title="PM's task", assignee=pm)

    response = client_for(liaison).get("/liaison/")

    assert [m.name for m in response.context["milestones"]] == ["Help desk ready"]
    assert [t.title for t in response.context["tasks"]] == ["Write the runbook"]
    page = response.content.decode()
    assert "Ready before the go-live, “Go live”" in page
    assert "Someone else&#x27;s" not in page and "PM&#x27;s task" not in page


def test_the_inbox_counts_callers_waiting_for_an_update(client_for, liaison, desk_project, promise):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    promise(milestone, days(10))
    promise(milestone, days(25))  # still holds

    response = client_for(liaison).get("/liaison/")

    accuracy = response.context["projects"][0].accuracy
    assert (accuracy.made, accuracy.broken, accuracy.to_update) == (2, 1, 1)
    assert response.context["callers_to_update"] == 1
    assert "1 to update" in response.content.decode()


def test_an_archived_project_drops_out_with_its_questions_and_tickets(
    client_for, liaison, desk_project, queue, ask
):
    ask(desk_project, "Still open")
    factories.TicketFactory(queue=queue, project=desk_project)
    desk_project.archived_at = timezone.now()
    desk_project.save(update_fields=["archived_at"])
    response = client_for(liaison).get("/liaison/")
    assert response.context["projects"] == []
    assert response.context["open_questions"] == [] and response.context["tickets"] == []


def test_user_text_in_the_inbox_is_escaped(client_for, liaison, desk_project, ask):
    ask(desk_project, "<script>alert(1)</script> works?")
    page = client_for(liaison).get("/liaison/").content.decode()
    assert "<script>alert(1)" not in page
    assert "works?" in page


# --- Queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 30])
def test_the_inbox_runs_a_constant_number_of_queries(
    client_for, liaison, queue, ask, promise, rows, django_assert_num_queries
):
    for n in range(rows):
        project = factories.ProjectFactory(liaison=liaison)
        queue.projects.add(project)
        milestone = factories.MilestoneFactory(project=project, target_date=days(20))
        factories.MilestoneFactory(project=project, owner=liaison)
        factories.TicketFactory(queue=queue, project=project, milestone=milestone)
        ask(project, f"Question {n}")
        promise(milestone, days(5))
        pf.TaskFactory(project=project, assignee=liaison)
    client = client_for(liaison)
    # session, user, roles; projects (with their counts), their open milestones, promise
    # accuracy; open questions, answered questions; tickets; tasks; owned milestones
    with django_assert_num_queries(11):
        response = client.get("/liaison/")
    assert len(response.context["projects"]) == rows
    assert response.context["open_question_total"] == rows
    assert response.context["ticket_total"] == 3 * rows  # the linked one, the asker's, the promised
    assert len(response.context["milestones"]) == rows
