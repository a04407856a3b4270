"""What the agent sees of the bridge: bulletin banners on triage, the answer card, link
suggestions, "ask the project", keeping the caller informed and snoozing until a
milestone."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from helpdesk.models import Ticket, TicketEvent
from helpdesk.services import ticket_refresh_search
from liaison import desk, publish
from liaison.models import Bulletin, HandoverPlan, ProjectDesk, Question
from projects import services as plan
from projects.models import Milestone, MilestoneSlip, Project
from tests import factories

pytestmark = pytest.mark.django_db

BULLETINS = "/desk/bulletins/"
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> [click](javascript:alert(2))'


def ticket_url(ticket, action=""):
    return f"/tickets/{ticket.pk}/" + (f"{action}/" if action else "")


def bulletin_for(queue, project, *, minutes_ago=0, **fields):
    now = timezone.now() - timedelta(minutes=minutes_ago)
    values = {
        "title": f"{project.key} {project.name}",
        "health": project.health,
        "body": "Tell them it is coming.",
        "next_milestone_name": "Go-live",
        "forecast_date": date(2027, 3, 15),
        "baseline_date": date(2027, 3, 1),
        "slips": [{"old": "2027-03-01", "new": "2027-03-15", "reason": "Vendor", "at": ""}],
        "updated_at": now,
        **fields,
    }
    return Bulletin.objects.create(queue=queue, project=project, **values)


@pytest.fixture
def linked(ticket, project):
    """The ticket, linked to the VPN project, which has a go-live that slipped twice."""
    milestone = factories.MilestoneFactory(
        project=project,
        name="Go-live",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=date(2027, 3, 1),
        target_date=date(2027, 3, 22),
    )
    for old, new in ((date(2027, 3, 1), date(2027, 3, 15)), (date(2027, 3, 15), date(2027, 3, 22))):
        MilestoneSlip.objects.create(milestone=milestone, old_date=old, new_date=new, reason="Late")
    Ticket.objects.filter(pk=ticket.pk).update(project=project, version=1)
    ticket.refresh_from_db()
    return ticket


# ---------------------------------------------------------------------------- bulletins


def test_triage_page_loads_the_bulletins_fragment_and_polls_it(client_for, agent, queue):
    response = client_for(agent).get("/tickets/?queue=service-desk")
    html = response.content.decode()
    assert 'hx-get="/desk/bulletins/?queue=service-desk"' in html
    assert 'hx-trigger="load"' in html


def test_agent_sees_the_bulletins_of_their_queues_newest_first(
    client_for, agent, queue, outsider, project
):
    older = factories.ProjectFactory(key="HR", name="HR portal")
    elsewhere = factories.ProjectFactory(key="CRM", name="CRM upgrade")
    bulletin_for(queue, older, minutes_ago=30)
    bulletin_for(queue, project, minutes_ago=1)
    other_queue = outsider.helpdesk_queues.get()
    bulletin_for(other_queue, elsewhere)
    bulletin_for(queue, factories.ProjectFactory(key="OLD"), active=False)

    response = client_for(agent).get(BULLETINS, **HTMX)

    assert response.status_code == 200
    assert [b.project.key for b in response.context["bulletins"]] == ["VPN", "HR"]
    html = response.content.decode()
    assert "CRM" not in html and "OLD" not in html
    assert "Mon 15 Mar 2027" in html and "baseline Mon 1 Mar 2027" in html and "+14 d" in html
    assert "<html" not in html  # the fragment only
    assert "HX-Request" in response["Vary"]


def test_a_project_in_two_of_the_agents_queues_is_one_banner(client_for, agent, queue, project):
    second = factories.QueueFactory(members=[agent])
    bulletin_for(queue, project, minutes_ago=5, body="older words")
    bulletin_for(second, project, body="newest words")
    response = client_for(agent).get(BULLETINS, **HTMX)
    [shown] = response.context["bulletins"]
    assert shown.body == "newest words"


def test_queue_filter_narrows_the_bulletins(client_for, agent, queue, project):
    second = factories.QueueFactory(slug="network", members=[agent])
    bulletin_for(second, project)
    client = client_for(agent)
    assert len(client.get(BULLETINS + "?queue=network", **HTMX).context["bulletins"]) == 1
    empty = client.get(BULLETINS + "?queue=service-desk", **HTMX).content.decode()
    assert "bulletin-line" not in empty and "></section>" in empty


def test_admin_sees_every_queues_bulletins(client_for, admin, queue, outsider, project):
    bulletin_for(outsider.helpdesk_queues.get(), project)
    assert len(client_for(admin).get(BULLETINS, **HTMX).context["bulletins"]) == 1


def test_agent_of_another_queue_sees_none_of_this_queues_bulletins(
    client_for, outsider, queue, project
):
    bulletin_for(queue, project)
    response = client_for(outsider).get(BULLETINS, **HTMX)
    assert response.status_code == 200
    assert "VPN" not in response.content.decode()


@pytest.mark.parametrize("who", ["pm", "stakeholder"])
def test_people_who_are_not_agents_may_not_read_bulletins(request, client_for, who, queue, project):
    bulletin_for(queue, project)
    response = client_for(request.getfixturevalue(who)).get(BULLETINS, **HTMX)
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, queue, project):
    bulletin_for(queue, project)
    response = client.get(BULLETINS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_poll_after_the_session_ended_sends_the_page_to_log_in(client, queue, project):
    bulletin_for(queue, project)
    response = client.get(
        BULLETINS, HTTP_HX_CURRENT_URL="http://testserver/tickets/?queue=sd", **HTMX
    )
    assert response.status_code == 200 and response.content == b""
    assert response["HX-Redirect"] == "/accounts/login/?next=/tickets/%3Fqueue%3Dsd"


@pytest.mark.parametrize("rows", [1, 25])
def test_bulletins_run_a_constant_number_of_queries(
    client_for, agent, queue, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows):
        slips = [{"old": "2027-01-01", "new": "2027-02-01", "reason": "x", "at": ""}] * 5
        bulletin_for(queue, project, slips=slips, workaround="Use the web client.")
    client = client_for(agent)
    # session, user, roles, the bulletins with their projects
    with django_assert_num_queries(4):
        response = client.get(BULLETINS, **HTMX)
    assert len(response.context["bulletins"]) == rows


def test_an_unchanged_poll_gets_204_and_a_changed_one_the_new_banners(
    client_for, agent, queue, project
):
    bulletin = bulletin_for(queue, project)
    client = client_for(agent)
    first = client.get(BULLETINS, **HTMX)
    poll = first.context["poll_query"]
    assert f'hx-get="/desk/bulletins/?{poll}"' in first.content.decode().replace("&amp;", "&")
    assert client.get(f"{BULLETINS}?{poll}", **HTMX).status_code == 204

    Bulletin.objects.filter(pk=bulletin.pk).update(
        forecast_date=date(2027, 4, 5), sequence=2, updated_at=timezone.now()
    )
    changed = client.get(f"{BULLETINS}?{poll}", **HTMX)
    assert changed.status_code == 200
    assert "Mon 5 Apr 2027" in changed.content.decode()


def test_bulletins_page_without_htmx_is_a_whole_page(client_for, agent, queue):
    response = client_for(agent).get(BULLETINS)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "No project news for your queues." in html


def test_hostile_text_in_a_bulletin_renders_inert(client_for, agent, queue, project):
    bulletin_for(queue, project, body=HOSTILE, workaround=HOSTILE)
    html = client_for(agent).get(BULLETINS, **HTMX).content.decode()
    assert "<script>alert" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_a_published_plan_change_reaches_the_banner(client_for, agent, queue, project, pm):
    queue.projects.add(project)
    go_live = plan.milestone_create(
        project=project, name="Go-live", target_date=date(2027, 3, 1), actor=pm
    )
    plan.milestone_reschedule(
        milestone=go_live, target_date=date(2027, 3, 29), reason="Vendor", actor=pm
    )
    publish.publish_project(project.pk)
    html = client_for(agent).get(BULLETINS, **HTMX).content.decode()
    assert "Mon 29 Mar 2027" in html and "+28 d" in html


# ---------------------------------------------------------------------------- answer card


def test_the_answer_card_shows_the_projects_answer(client_for, agent, linked, project):
    ProjectDesk.objects.create(
        project=project, tell_callers="Soon, **really**.", workaround="Use the web client."
    )
    HandoverPlan.objects.create(project=project, hypercare_until=timezone.localdate())
    html = client_for(agent).get(ticket_url(linked)).content.decode()
    assert 'id="answer-card"' in html
    assert "VPN replacement" in html and "On track" in html
    assert "Mon 22 Mar 2027" in html and "Mon 1 Mar 2027" in html and "+21 d" in html
    assert "Soon, <strong>really</strong>." in html
    assert "Use the web client." in html
    assert "Hypercare until" in html
    assert "2 moves of Go-live" in html
    assert "data-insert-answer" in html and 'data-promise="' in html


def test_the_generated_answer_names_the_date_and_the_slip(client_for, agent, linked):
    html = client_for(agent).get(ticket_url(linked)).content.decode()
    assert "generated from the plan" in html
    assert "expected on Mon 22 Mar 2027" in html
    assert "later than first planned" in html
    assert "Hypercare" not in html


def test_the_card_prefers_the_tickets_own_milestone(client_for, agent, linked, project):
    later = factories.MilestoneFactory(
        project=project,
        name="Phase two",
        target_date=date(2027, 9, 1),
        baseline_date=date(2027, 9, 1),
    )
    Ticket.objects.filter(pk=linked.pk).update(milestone=later)
    html = client_for(agent).get(ticket_url(linked)).content.decode()
    assert "Linked milestone" in html and "Phase two" in html and "Wed 1 Sep 2027" in html


def test_the_card_answers_about_the_go_live_not_the_help_desks_own(
    client_for, agent, ticket, project, pm
):
    go_live = plan.milestone_create(
        project=project,
        name="Go-live",
        target_date=date(2027, 3, 1),
        kind=Milestone.Kind.GO_LIVE,
        actor=pm,
    )
    assert project.milestones.filter(paired_go_live=go_live).exists()  # sooner, internal
    Ticket.objects.filter(pk=ticket.pk).update(project=project)
    html = client_for(agent).get(ticket_url(ticket)).content.decode()
    card = html[html.index('id="answer-card"') :].split("</section>")[0]
    assert "Go-live for VPN replacement is expected on Mon 1 Mar 2027." in card
    assert "Help desk ready" not in card


def test_hostile_text_on_the_answer_card_renders_inert(client_for, agent, linked, project):
    ProjectDesk.objects.create(project=project, tell_callers=HOSTILE, workaround=HOSTILE)
    Question.objects.create(
        ticket=linked, project=project, text=HOSTILE, due_at=timezone.now() + timedelta(days=1)
    )
    html = client_for(agent).get(ticket_url(linked)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x onerror" not in html
    assert 'href="javascript:' not in html


@pytest.mark.parametrize("rows", [1, 20])
def test_ticket_page_with_a_card_runs_a_constant_number_of_queries(
    client_for, agent, linked, project, rows, django_assert_num_queries
):
    milestone = project.milestones.get()
    for _ in range(rows):
        MilestoneSlip.objects.create(
            milestone=milestone, old_date=date(2027, 1, 1), new_date=date(2027, 2, 1), reason="x"
        )
        Question.objects.create(
            ticket=linked, project=project, text="When?", asked_by=agent, due_at=timezone.now()
        )
        factories.MilestoneFactory(project=project)
    client = client_for(agent)
    # session, user, roles, ticket, tags, canned responses, events (none: no attachments
    # query), queue members, open milestones (link and snooze forms) + the card's five:
    # milestones, desk, slips, handover plan, questions
    with django_assert_num_queries(14):
        response = client.get(ticket_url(linked))
    assert response.status_code == 200


# ---------------------------------------------------------------------------- suggestions


@pytest.fixture
def candidates(db):
    return {
        "vpn": factories.ProjectFactory(
            key="VPN", name="VPN replacement", keywords="remote access"
        ),
        "office": factories.ProjectFactory(
            key="MOVE", name="Office move", keywords="relocation, new building"
        ),
        "payroll": factories.ProjectFactory(key="PAY", name="Payroll migration"),
        "done": factories.ProjectFactory(
            key="OLD", name="Printer fleet", status=Project.Status.DONE
        ),
        "archived": factories.ProjectFactory(
            key="ARC", name="Printer drivers", archived_at=timezone.now()
        ),
    }


def suggestions(queue, subject, description=""):
    ticket = factories.TicketFactory(queue=queue, subject=subject, description=description)
    ticket_refresh_search(ticket.pk)
    ticket.refresh_from_db()
    return [project.key for project in desk.suggested_projects(ticket)]


@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        ("Cannot get remote access from home", "", ["VPN"]),  # a keyword phrase
        ("Question", "When do we move to the new building?", ["MOVE"]),  # keyword, description
        ("Payroll migration broke my payslip", "", ["PAY"]),  # the name
        ("VPN down again", "", ["VPN"]),  # the key
        ("PAY-42 follow-up", "", ["PAY"]),  # the key, exactly, in the subject
        ("PAYSLIP missing", "", []),  # the key as the start of a longer word is not it
        ("Error in the VPN2 client", "", []),  # nor with a digit after it
        ("The office printer is broken", "The printer fleet drivers are old", []),
        ("Migration of my mailbox", "", []),  # one word of a name is not the name
        ("Access badge lost", "", []),  # one word of a keyword phrase neither
    ],
)
def test_suggestions_match_key_name_and_keywords_and_not_unrelated_text(
    queue, candidates, subject, description, expected
):
    assert suggestions(queue, subject, description) == expected


def test_suggestions_are_one_query(queue, candidates, django_assert_num_queries):
    ticket = factories.TicketFactory(queue=queue, subject="VPN and payroll migration")
    ticket_refresh_search(ticket.pk)
    with django_assert_num_queries(2):  # the projects' queries are compiled, then cached
        found = desk.suggested_projects(ticket)
    assert [p.key for p in found] == ["VPN", "PAY"]
    with django_assert_num_queries(1):
        assert [p.key for p in desk.suggested_projects(ticket)] == ["VPN", "PAY"]


def test_a_renamed_project_is_matched_by_its_new_words_at_once(queue, candidates):
    ticket = factories.TicketFactory(queue=queue, subject="Zebra printers jam")
    ticket_refresh_search(ticket.pk)
    assert desk.suggested_projects(ticket) == []
    vpn = candidates["vpn"]
    vpn.keywords = "zebra printers"
    vpn.save()
    assert [p.key for p in desk.suggested_projects(ticket)] == ["VPN"]


def test_a_linked_or_closed_ticket_gets_no_suggestions(queue, candidates):
    ticket = factories.TicketFactory(queue=queue, subject="VPN", status=Ticket.Status.CLOSED)
    assert desk.suggested_projects(ticket) == []
    ticket = factories.TicketFactory(queue=queue, subject="VPN", project=candidates["vpn"])
    assert desk.suggested_projects(ticket) == []


def test_the_ticket_page_suggests_and_one_click_links(client_for, agent, queue, candidates):
    ticket = factories.TicketFactory(queue=queue, subject="VPN keeps dropping")
    ticket_refresh_search(ticket.pk)
    client = client_for(agent)
    html = client.get(ticket_url(ticket)).content.decode()
    assert "Is this about a project?" in html and "Link to VPN" in html

    response = client.post(f"/desk/tickets/{ticket.pk}/link/", {"project": candidates["vpn"].pk})

    assert response.status_code == 302 and response["Location"] == ticket_url(ticket)
    ticket.refresh_from_db()
    assert ticket.project == candidates["vpn"]
    assert ticket.events.filter(kind=TicketEvent.Kind.CHANGE, author=agent).exists()


@pytest.mark.parametrize("which", ["done", "archived"])
def test_a_closed_or_archived_project_cannot_be_linked(
    client_for, agent, ticket, candidates, which
):
    response = client_for(agent).post(
        f"/desk/tickets/{ticket.pk}/link/", {"project": candidates[which].pk}, follow=True
    )
    assert "cannot be linked" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.project is None


def test_a_suggestion_does_not_overwrite_a_link_made_meanwhile(
    client_for, agent, ticket, candidates
):
    Ticket.objects.filter(pk=ticket.pk).update(project=candidates["payroll"])
    client_for(agent).post(f"/desk/tickets/{ticket.pk}/link/", {"project": candidates["vpn"].pk})
    ticket.refresh_from_db()
    assert ticket.project == candidates["payroll"]


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("pm", 403), ("stakeholder", 403)])
def test_only_agents_of_the_queue_may_link_from_a_suggestion(
    request, client_for, ticket, candidates, who, status
):
    client = client_for(request.getfixturevalue(who))
    response = client.post(f"/desk/tickets/{ticket.pk}/link/", {"project": candidates["vpn"].pk})
    assert response.status_code == status
    ticket.refresh_from_db()
    assert ticket.project is None


def test_linking_needs_a_post_and_a_login(client, client_for, agent, ticket, candidates):
    assert client_for(agent).get(f"/desk/tickets/{ticket.pk}/link/").status_code == 405
    client.logout()
    response = client.post(f"/desk/tickets/{ticket.pk}/link/", {"project": candidates["vpn"].pk})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# ---------------------------------------------------------------------------- ask the project


def ask(client, ticket, htmx=True, **data):
    fields = {"ask-text": "Will the old client still work?", "ask-due_at": "2030-01-07T10:00"}
    fields.update(data)
    return client.post(f"/desk/tickets/{ticket.pk}/ask/", fields, **(HTMX if htmx else {}))


def test_agent_asks_the_project_from_the_card(client_for, agent, linked, project):
    response = ask(client_for(agent), linked)
    assert response.status_code == 200
    question = Question.objects.get()
    assert (question.ticket, question.project, question.asked_by) == (linked, project, agent)
    assert timezone.localtime(question.due_at).replace(tzinfo=None) == datetime(2030, 1, 7, 10)
    html = response.content.decode()
    assert "Will the old client still work?" in html and 'id="ticket-questions"' in html
    assert "<html" not in html


def test_the_card_lists_open_and_answered_questions(client_for, agent, linked, project):
    soon = timezone.now() + timedelta(hours=3)
    Question.objects.create(ticket=linked, project=project, text="Open one", due_at=soon)
    Question.objects.create(
        ticket=linked,
        project=project,
        text="Done one",
        due_at=soon,
        answer="Yes, it will.",
        answered_at=timezone.now(),
    )
    Question.objects.create(
        ticket=linked, project=project, text="Late one", due_at=timezone.now() - timedelta(hours=1)
    )
    html = client_for(agent).get(ticket_url(linked)).content.decode()
    assert html.index("Late one") < html.index("Open one") < html.index("Done one")
    assert "Overdue" in html and "Yes, it will." in html


def test_a_bad_question_comes_back_with_what_was_typed(client_for, agent, linked):
    client = client_for(agent)
    response = ask(client, linked, **{"ask-due_at": "2001-01-01T10:00"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a time in the future." in html
    assert "Will the old client still work?" in html
    response = ask(client, linked, htmx=False, **{"ask-text": " "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert Question.objects.count() == 0


def test_without_javascript_asking_redirects_to_the_ticket(client_for, agent, linked):
    response = ask(client_for(agent), linked, htmx=False)
    assert response.status_code == 302 and response["Location"] == ticket_url(linked)
    assert Question.objects.count() == 1


def test_an_unlinked_ticket_cannot_ask(client_for, agent, ticket):
    response = ask(client_for(agent), ticket, htmx=False)
    assert response.status_code == 302
    assert Question.objects.count() == 0


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("pm", 403), ("stakeholder", 403)])
def test_only_agents_of_the_queue_may_ask(request, client_for, linked, who, status):
    assert ask(client_for(request.getfixturevalue(who)), linked).status_code == status
    assert Question.objects.count() == 0


def test_anonymous_may_not_ask(client, linked):
    assert ask(client, linked).status_code == 302
    assert Question.objects.count() == 0


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2027, 3, 1, 9, 30), datetime(2027, 3, 2, 9, 30)),  # Monday → Tuesday
        (datetime(2027, 3, 5, 16, 0), datetime(2027, 3, 8, 16, 0)),  # Friday → Monday
        (datetime(2027, 3, 6, 11, 0), datetime(2027, 3, 8, 11, 0)),  # Saturday → Monday
    ],
)
def test_questions_are_due_the_next_business_day_at_the_same_time(now, due):
    aware = timezone.make_aware(now)
    assert timezone.localtime(desk.default_due_at(aware)).replace(tzinfo=None) == due


# ---------------------------------------------------------------------------- keep informed


def edit(client, ticket, version, **fields):
    data = {"version": version, "status": "open", "priority": "P3", "type": "incident"}
    data.update(fields)
    return client.post(ticket_url(ticket, "edit"), data)


def test_agent_asks_to_keep_the_caller_informed(client_for, agent, ticket):
    client = client_for(agent)
    html = client.get(ticket_url(ticket)).content.decode()
    assert 'name="keep_requester_informed"' in html and "Keep the caller informed" in html

    assert edit(client, ticket, 1, keep_requester_informed="on").status_code == 302
    ticket.refresh_from_db()
    assert ticket.keep_requester_informed is True
    change = ticket.events.filter(kind=TicketEvent.Kind.CHANGE).latest("id")
    assert change.changes["keep_requester_informed"] == [False, True]
    page = client.get(ticket_url(ticket)).content.decode()
    assert 'id="id_keep_requester_informed" checked' in page

    edit(client, ticket, ticket.version)
    ticket.refresh_from_db()
    assert ticket.keep_requester_informed is False


def test_keep_informed_on_a_stale_version_is_held_back(client_for, agent, ticket):
    response = edit(client_for(agent), ticket, 7, keep_requester_informed="on")
    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.keep_requester_informed is False


# ---------------------------------------------------------------------------- snooze


def test_agent_snoozes_until_a_milestone_of_the_linked_project(client_for, agent, linked, project):
    milestone = project.milestones.get()
    client = client_for(agent)
    html = client.get(ticket_url(linked)).content.decode()
    assert "Or until a milestone is complete" in html

    response = client.post(ticket_url(linked, "snooze"), {"milestone": milestone.pk})

    assert response.status_code == 302
    linked.refresh_from_db()
    assert linked.snoozed_until_milestone == milestone and linked.snoozed_until is None
    assert "until Go-live is complete" in client.get(ticket_url(linked)).content.decode()


def test_snoozing_until_another_projects_milestone_is_refused(client_for, agent, linked):
    foreign = factories.MilestoneFactory()
    response = client_for(agent).post(ticket_url(linked, "snooze"), {"milestone": foreign.pk})
    assert response.status_code == 400
    assert "Choose a milestone of the linked project." in response.content.decode()
    linked.refresh_from_db()
    assert linked.snoozed_until_milestone is None


def test_completing_the_milestone_wakes_the_ticket_with_a_note(
    client_for, agent, linked, project, pm
):
    milestone = project.milestones.get()
    Ticket.objects.filter(pk=linked.pk).update(status=Ticket.Status.PENDING)
    client_for(agent).post(ticket_url(linked, "snooze"), {"milestone": milestone.pk})

    plan.milestone_complete(milestone=milestone, actor=pm)
    publish.publish_project(project.pk)

    linked.refresh_from_db()
    assert linked.snoozed_until_milestone is None
    assert linked.status == Ticket.Status.OPEN
    note = linked.events.filter(kind=TicketEvent.Kind.SYSTEM, body__startswith="Woken up").get()
    assert "Go-live" in note.body and note.public is False


def test_the_ask_page_works_without_javascript(client_for, agent, linked):
    response = client_for(agent).get(f"/desk/tickets/{linked.pk}/ask/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ask the VPN replacement team" in html and 'name="ask-text"' in html
    assert 'name="ask-due_at"' in html and 'type="datetime-local"' in html


def test_a_made_up_project_cannot_be_linked(client_for, agent, ticket):
    response = client_for(agent).post(f"/desk/tickets/{ticket.pk}/link/", {"project": "VPN"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.project is None
