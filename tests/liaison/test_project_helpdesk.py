"""A project's help desk side (/projects/<key>/helpdesk/): what agents tell callers, the
affected queues and keywords, the promise ledger and its one action, and the questions
from the help desk with their answers. Who may read, edit, answer and send; constant
queries; bad input kept and answered 400."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from helpdesk.models import Ticket, TicketEvent
from liaison.models import Bulletin, ProjectDesk, Promise, Question
from projects.models import Project, ProjectEvent
from tests import factories
from tests.liaison import test_inbox
from tests.liaison.test_inbox import days

pytestmark = pytest.mark.django_db

# The cast of the liaison tests (see tests/liaison/test_inbox.py).
liaison, desk_project, pm_other, member = (
    test_inbox.liaison,
    test_inbox.desk_project,
    test_inbox.pm_other,
    test_inbox.member,
)
ask, promise = test_inbox.ask, test_inbox.promise

URL = "/projects/VPN/helpdesk/"
UPDATE_URL = "/projects/VPN/helpdesk/promises/update/"


def answer_url(question) -> str:
    return f"/projects/VPN/helpdesk/questions/{question.pk}/answer/"


@pytest.fixture
def run_tasks_here():
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.SITE_URL = "https://help.example.org"


@pytest.fixture
def network(db):
    return factories.QueueFactory(name="Network", slug="network", key="NET")


def settings_form(queue_ids, **overrides) -> dict:
    """The settings form as the page fills it (the liaison kept), with `overrides`."""
    data = {
        "liaison": str(Project.objects.get(key="VPN").liaison_id or ""),
        "queues": [str(pk) for pk in queue_ids],
        "keywords": "VPN, remote access",
        "tell_callers": "The new VPN arrives in **May**.",
        "workaround": "Use the web portal meanwhile.",
        "workaround_public": "on",
    }
    data.update(overrides)
    return data


def user_for(request, who):
    return request.getfixturevalue(who) if who else None


# --- Who may do what --------------------------------------------------------------------

CAST = ["liaison", "outsider", "pm", "pm_other", "member", "stakeholder", None]


@pytest.mark.parametrize(
    "who, status, edits, answers, sends",
    [
        ("liaison", 200, True, True, True),
        ("outsider", 200, False, False, False),  # any agent reads
        ("pm", 200, True, True, False),  # the owner: not an agent, sends no caller mail
        ("pm_other", 200, True, False, False),  # plans (a PM), is not on the team
        ("member", 200, True, True, True),  # an agent on the team
        ("stakeholder", 403, False, False, False),
        (None, 302, False, False, False),
    ],
)
def test_who_reads_and_what_they_see(
    client_for, request, desk_project, ask, promise, who, status, edits, answers, sends
):
    ask(desk_project)
    promise(factories.MilestoneFactory(project=desk_project, target_date=days(20)), days(10))
    response = client_for(user_for(request, who)).get(URL)
    assert response.status_code == status
    if status != 200:
        return
    page = response.content.decode()
    assert ("Save and update the bulletins" in page) is edits
    assert ("Send answer" in page) is answers
    assert ("Send an update to these 1 caller" in page) is sends
    assert 'aria-current="page">Help desk</a>' in page


def test_a_private_project_is_not_found_for_a_stakeholder(client_for, stakeholder, desk_project):
    desk_project.visibility = "private"
    desk_project.save(update_fields=["visibility"])
    assert client_for(stakeholder).get(URL).status_code == 404
    assert client_for(stakeholder).get("/projects/NOPE/helpdesk/").status_code == 404


@pytest.mark.parametrize(
    "who, status",
    [
        ("liaison", 302),
        ("outsider", 403),
        ("pm", 302),
        ("pm_other", 302),
        ("member", 302),
        ("stakeholder", 403),
        (None, 302),
    ],
)
def test_who_may_change_what_the_help_desk_is_told(
    client_for, request, desk_project, queue, who, status
):
    response = client_for(user_for(request, who)).post(URL, settings_form([queue.pk]))
    assert response.status_code == status
    desk_project.refresh_from_db()
    if who is None:
        assert response["Location"].startswith("/accounts/login/")
    changed = desk_project.keywords == "VPN, remote access"
    assert changed is (status == 302 and who is not None)


@pytest.mark.parametrize(
    "who, status",
    [
        ("liaison", 302),
        ("outsider", 403),
        ("pm", 302),
        ("pm_other", 403),
        ("member", 302),
        ("stakeholder", 403),
        (None, 302),
    ],
)
def test_who_may_answer_a_question(client_for, request, desk_project, ask, who, status):
    question = ask(desk_project)
    response = client_for(user_for(request, who)).post(
        answer_url(question), {"answer": "Yes, from version 2."}
    )
    assert response.status_code == status
    question.refresh_from_db()
    assert (question.answered_at is not None) is (status == 302 and who is not None)


@pytest.mark.parametrize(
    "who, status",
    [
        ("liaison", 302),
        ("outsider", 403),
        ("pm", 403),
        ("pm_other", 403),
        ("member", 302),
        ("stakeholder", 403),
        (None, 302),
    ],
)
def test_who_may_send_callers_the_update(client_for, request, desk_project, promise, who, status):
    made = promise(factories.MilestoneFactory(project=desk_project, target_date=days(20)), days(5))
    response = client_for(user_for(request, who)).post(UPDATE_URL)
    assert response.status_code == status
    made.refresh_from_db()
    assert (made.updated_at is not None) is (status == 302 and who is not None)


def test_the_pages_answer_get_only_where_they_should(client_for, liaison, desk_project, ask):
    question = ask(desk_project)
    client = client_for(liaison)
    assert client.get(UPDATE_URL).status_code == 405
    assert client.get(answer_url(question)).status_code == 405


def test_a_question_of_another_project_is_not_found_here(client_for, liaison, desk_project, ask):
    other = factories.ProjectFactory(key="OTHER", liaison=liaison)
    question = ask(other)
    response = client_for(liaison).post(answer_url(question), {"answer": "Yes."})
    assert response.status_code == 404


# --- What the help desk is told ---------------------------------------------------------


def test_saving_updates_queues_keywords_texts_and_the_bulletins_at_once(
    client_for, liaison, desk_project, queue, network
):
    ProjectEvent.objects.all().delete()
    response = client_for(liaison).post(
        URL, settings_form([network.pk], liaison=str(liaison.pk)), follow=True
    )

    assert response.status_code == 200
    assert "The bulletins in the affected queues say so now." in response.content.decode()
    desk_project.refresh_from_db()
    assert desk_project.keywords == "VPN, remote access"
    assert list(desk_project.queues.all()) == [network]
    desk = ProjectDesk.objects.get(project=desk_project)
    assert desk.tell_callers == "The new VPN arrives in **May**."
    assert desk.workaround == "Use the web portal meanwhile." and desk.workaround_public
    # The keyword change went through projects.services: recorded, announced.
    assert ProjectEvent.objects.filter(kind=ProjectEvent.Kind.PROJECT_CHANGED).count() == 1
    # The bulletin of the newly affected queue says it now, without waiting for a worker.
    bulletin = Bulletin.objects.get(queue=network, project=desk_project)
    assert bulletin.active and bulletin.body == "The new VPN arrives in **May**."
    assert bulletin.workaround == "Use the web portal meanwhile." and bulletin.public


def test_a_queue_no_longer_affected_loses_its_bulletin(client_for, liaison, desk_project, queue):
    client = client_for(liaison)
    client.post(URL, settings_form([queue.pk]))
    assert Bulletin.objects.get(queue=queue, project=desk_project).active
    client.post(URL, settings_form([]))
    assert not Bulletin.objects.get(queue=queue, project=desk_project).active
    assert not desk_project.queues.exists()


def test_the_preview_shows_the_generated_text_until_the_liaison_writes_one(
    client_for, liaison, desk_project
):
    factories.MilestoneFactory(project=desk_project, name="Pilot", target_date=days(12))
    page = client_for(liaison).get(URL).content.decode()
    assert "Pilot for VPN replacement is expected on" in page
    assert "Generated from the plan." in page
    client_for(liaison).post(URL, settings_form([], tell_callers="Say *hello*."))
    page = client_for(liaison).get(URL).content.decode()
    assert "Say <em>hello</em>." in page and "Generated from the plan." not in page


def test_bad_settings_come_back_400_with_what_was_typed(client_for, liaison, desk_project, queue):
    data = settings_form([queue.pk, 999999], keywords="x" * 400, tell_callers="Keep me")
    response = client_for(liaison).post(URL, data)
    assert response.status_code == 400
    form = response.context["desk_form"]
    assert set(form.errors) == {"queues", "keywords"}
    page = response.content.decode()
    assert "Keep me" in page and "Please correct the fields marked below" in page
    assert not ProjectDesk.objects.filter(project=desk_project, tell_callers="Keep me").exists()


def test_user_text_on_the_page_goes_through_the_sanitiser(client_for, liaison, desk_project, ask):
    ask(desk_project, "<img src=x onerror=alert(1)> **bold**")
    client = client_for(liaison)
    client.post(URL, settings_form([], tell_callers="<script>alert(2)</script>"))
    page = client.get(URL).content.decode()
    assert "onerror" not in page and "<script>alert(2)" not in page
    assert "<strong>bold</strong>" in page


def test_the_project_page_shows_the_open_linked_tickets(client_for, pm, desk_project, queue):
    factories.TicketFactory.create_batch(2, queue=queue, project=desk_project)
    factories.TicketFactory(queue=queue, project=desk_project, status=Ticket.Status.CLOSED)
    page = client_for(pm).get("/projects/VPN/").content.decode()
    assert '<a href="/projects/VPN/helpdesk/">2 open linked tickets</a>' in page


# --- The promise ledger on the page -----------------------------------------------------


def test_the_ledger_lists_broken_promises_with_caller_and_dates(
    client_for, liaison, desk_project, promise
):
    milestone = factories.MilestoneFactory(
        project=desk_project, name="Rollout", target_date=days(10), forecast_date=days(17)
    )
    broken = promise(milestone, days(12))
    promise(milestone, days(30))
    response = client_for(liaison).get(URL)
    assert [p.pk for p in response.context["broken"]] == [broken.pk]
    accuracy = response.context["accuracy"]
    assert (accuracy.made, accuracy.kept, accuracy.broken, accuracy.pending) == (2, 0, 1, 1)
    page = response.content.decode()
    assert broken.ticket.reference in page
    assert broken.ticket.requester.name in page
    assert f"{days(12):%-d %b %Y}" in page and f"{days(17):%-d %b %Y}" in page
    assert "+5 d" in page
    assert "Send an update to these 1 caller" in page


def test_pressing_send_twice_mails_each_caller_once(
    client_for,
    liaison,
    desk_project,
    promise,
    mailoutbox,
    django_capture_on_commit_callbacks,
    run_tasks_here,
):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    made = [promise(milestone, days(10)) for _ in range(2)]
    client = client_for(liaison)

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(UPDATE_URL, follow=True)
    assert "Update sent to 2 callers" in first.content.decode()
    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.ticket.requester.email for p in made)

    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(UPDATE_URL, follow=True)
    assert "Nobody is waiting for an update; nothing was sent." in second.content.decode()
    assert len(mailoutbox) == 2
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLY, author=liaison).count() == 2
    assert not Promise.objects.filter(updated_at__isnull=True).exists()
    assert "No caller is waiting on a date that no longer holds." in second.content.decode()


# --- Questions --------------------------------------------------------------------------


def test_open_questions_show_overdue_first_and_flagged(client_for, pm, desk_project, ask):
    ask(desk_project, "Not urgent", due_in=timedelta(days=3))
    late = ask(desk_project, "Urgent and late", due_in=timedelta(hours=-2))
    response = client_for(pm).get(URL)
    assert response.context["open_questions"][0].pk == late.pk
    assert response.context["overdue_total"] == 1
    page = response.content.decode()
    assert f'class="question is-overdue" id="question-{late.pk}"' in page
    assert "Overdue: was due" in page


def test_an_answer_becomes_an_internal_note_the_caller_never_sees(
    client, client_for, pm, desk_project, ask, liaison
):
    question = ask(desk_project, "Will it work on Linux?", asked_by=liaison)
    response = client_for(pm).post(answer_url(question), {"answer": "Yes: version 2 in June."})
    assert response.status_code == 302
    assert response["Location"] == "/projects/VPN/helpdesk/#questions"

    question.refresh_from_db()
    assert question.answer == "Yes: version 2 in June." and question.answered_by == pm
    note = TicketEvent.objects.get(ticket=question.ticket, kind=TicketEvent.Kind.NOTE)
    assert not note.public and note.author == pm
    assert "Yes: version 2 in June." in note.body and "> Will it work on Linux?" in note.body

    client.logout()
    requester_page = client.get(f"/t/{question.ticket.secret}/").content.decode()
    assert "version 2 in June" not in requester_page
    assert "Will it work on Linux" not in requester_page


def test_an_empty_answer_comes_back_with_an_error_and_the_text(
    client_for, liaison, desk_project, ask
):
    question = ask(desk_project)
    response = client_for(liaison).post(answer_url(question), {"answer": "   "})
    assert response.status_code == 400
    assert "Write an answer before sending it." in response.content.decode()
    question.refresh_from_db()
    assert question.answered_at is None
    assert not TicketEvent.objects.filter(ticket=question.ticket, kind="note").exists()


def test_a_second_answer_is_refused_and_keeps_what_was_typed(
    client_for, liaison, pm, desk_project, ask
):
    question = ask(desk_project)
    client_for(pm).post(answer_url(question), {"answer": "First answer."})
    # The liaison had the page open and answers too.
    response = client_for(liaison).post(answer_url(question), {"answer": "My late answer."})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Your answer was not sent:" in page and "answered this question" in page
    assert "My late answer." in page
    assert TicketEvent.objects.filter(ticket=question.ticket, kind="note").count() == 1
    assert Question.objects.get(pk=question.pk).answer == "First answer."
    assert "First answer." in page  # among the recently answered


# --- Queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 25])
def test_the_help_desk_page_runs_a_constant_number_of_queries(
    client_for, liaison, desk_project, queue, ask, promise, rows, django_assert_num_queries
):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    for n in range(rows):
        factories.QueueFactory()
        ask(desk_project, f"Question {n}")
        answered = ask(desk_project, f"Answered {n}")
        Question.objects.filter(pk=answered.pk).update(
            answer="Yes.", answered_by=liaison, answered_at=timezone.now()
        )
        promise(milestone, days(10))
        factories.TicketFactory(queue=queue, project=desk_project)
    ProjectDesk.objects.create(project=desk_project, tell_callers="Hello.")
    client = client_for(liaison)
    # session, user, roles, project; queues, desk; briefing (open milestones, desk, slips);
    # open questions, answered questions; broken promises, accuracy; linked ticket count;
    # the head's hypercare badge (handover plan); the liaison choices of the settings form
    with django_assert_num_queries(16):
        response = client.get(URL)
    assert response.context["open_question_total"] == rows
    assert response.context["broken_total"] == rows


@pytest.mark.parametrize("rows", [1, 25])
def test_a_reader_runs_a_constant_number_of_queries_too(
    client_for, outsider, desk_project, queue, ask, rows, django_assert_num_queries
):
    for n in range(rows):
        ask(desk_project, f"Question {n}")
    client = client_for(outsider)
    # as the liaison's page, plus the team check, less the settings form's choices and
    # the slips (no milestone here)
    with django_assert_num_queries(15):
        response = client.get(URL)
    assert response.context["desk_form"] is None
