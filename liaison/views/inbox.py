"""The liaison's pages: the inbox (/liaison/) and a project's help desk side
(/projects/<key>/helpdesk/) with its promise ledger and the questions to the team.

Who may do what: the inbox is for agents (others get 403). The help desk page is read by
agents and project managers (liaison.access.get_desk_project_for: 404 for a project the
user may not see, 403 for stakeholders); the liaison, the owner and planners edit what
agents are told; the project team answers questions; the liaison (or an agent who may
edit) sends callers the update on broken promises. Every page runs a constant number of
queries; every form with errors comes back with status 400 and what was typed.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Subquery, Window
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.decorators import role_required
from config.forms import add_service_errors
from config.roles import AGENTS, is_agent
from helpdesk.models import Queue, Ticket
from liaison import ledger, questions, services
from liaison.access import DeskRights, get_desk_project_for
from liaison.briefing import briefing_for
from liaison.models import ProjectDesk, Question
from liaison.templatetags.liaison_projects import COUNT_CAP, open_linked_ticket_count
from projects.forms import PersonChoiceField, limit_length, people_with_roles
from projects.models import Milestone, Project, Task
from projects.selectors import expected_date, open_milestones

agents_only = role_required(is_agent, "The liaison inbox is for help desk agents.")

# Bounded lists: each shows this many rows and says how many there are in all.
TICKETS_SHOWN = 50
WORK_SHOWN = 50
TEXT_LIMIT = 5_000


# --- The inbox ------------------------------------------------------------------------


def _count_of(queryset):
    """A correlated COUNT(*) subquery, 0 when there is no row."""
    counted = queryset.order_by().values("project").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted), 0)


@agents_only
def inbox(request):
    """The liaison's day: their projects, the questions the help desk asked them, the
    open tickets linked to their projects, and the work the plan gives them. Eleven
    queries whatever the number of rows."""
    user = request.user
    now = timezone.now()
    mine = Project.objects.filter(liaison=user)
    projects = list(
        mine.filter(archived_at__isnull=True)
        .select_related("owner")
        .prefetch_related(open_milestones())
        .annotate(
            open_tickets=_count_of(
                Ticket.objects.open().filter(project=OuterRef("pk"), merged_into__isnull=True)
            ),
            open_questions=_count_of(
                Question.objects.filter(project=OuterRef("pk"), answered_at__isnull=True)
            ),
            overdue_questions=_count_of(
                Question.objects.filter(project=OuterRef("pk")).filter(questions.overdue_q(now))
            ),
        )
        .order_by("name", "id")
    )
    accuracy = ledger.accuracy_by_project([p.pk for p in projects])
    for project in projects:
        project.accuracy = accuracy.get(project.pk, ledger.Accuracy())
        project.next_milestone = project.open_milestones[0] if project.open_milestones else None

    # Archived projects drop out of the inbox with everything that hangs on them.
    asked = Question.objects.filter(project__liaison=user, project__archived_at__isnull=True)
    open_asked, open_total = questions.open_questions(asked)
    answered = questions.recently_answered(asked)

    # Tickets the liaison can open (their queues); each project's row counts them all.
    tickets = list(
        Ticket.objects.visible_to(user)
        .open()
        .filter(project__liaison=user, project__archived_at__isnull=True, merged_into__isnull=True)
        .with_list_columns()
        .select_related("project", "milestone")
        .defer("description", "search_vector")
        .annotate(total=Window(Count("id")))
        .order_by("priority", "created_at", "id")[:TICKETS_SHOWN]
    )
    tasks = list(
        Task.objects.filter(assignee=user, completed_at__isnull=True)
        .select_related("project", "milestone", "column")
        .annotate(total=Window(Count("id")))
        .order_by(F("due_date").asc(nulls_last=True), "id")[:WORK_SHOWN]
    )
    owned = list(
        Milestone.objects.filter(owner=user, completed_at__isnull=True)
        .select_related("project", "paired_go_live")
        .annotate(total=Window(Count("id")), expected=expected_date())
        .order_by("expected", "id")[:WORK_SHOWN]
    )
    context = {
        "projects": projects,
        "open_questions": open_asked,
        "open_question_total": open_total,
        "overdue_total": sum(p.overdue_questions for p in projects),
        "answered_questions": answered,
        "tickets": tickets,
        "ticket_total": tickets[0].total if tickets else 0,
        "linked_total": sum(p.open_tickets for p in projects),
        "tasks": tasks,
        "task_total": tasks[0].total if tasks else 0,
        "milestones": owned,
        "milestone_total": owned[0].total if owned else 0,
        "callers_to_update": sum(p.accuracy.to_update for p in projects),
        "today": timezone.localdate(),
        "tickets_url": reverse("helpdesk:triage"),
    }
    return render(request, "liaison/inbox/inbox.html", context)


# --- The project's help desk page: forms -----------------------------------------------


class DeskForm(forms.Form):
    """What the help desk is told about a project. Queues are given as a list already
    read (with whether each is affected), so the form reads no table itself."""

    liaison = PersonChoiceField(
        queryset=None,
        required=False,
        empty_label="None yet",
        help_text="The agent who speaks for this project in the help desk.",
    )
    queues = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Affected queues",
        help_text="Their agents see the bulletin and hear of every plan change.",
    )
    keywords = forms.CharField(
        required=False,
        max_length=300,
        help_text="Words callers use, e.g. “VPN, remote access”: matching tickets are "
        "suggested for linking.",
    )
    tell_callers = forms.CharField(
        required=False,
        label="What to tell callers",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Leave empty to use the text generated from the plan (shown above).",
    )
    workaround = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What callers can do meanwhile.",
    )
    workaround_public = forms.BooleanField(
        required=False,
        label="Show the workaround on the status page",
        help_text="As a known issue, for stakeholders and callers.",
    )

    def __init__(self, *args, queues: list[Queue], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["liaison"].queryset = people_with_roles(AGENTS)
        self.fields["queues"].choices = [(queue.pk, queue.name) for queue in queues]
        limit_length(self.fields["tell_callers"], TEXT_LIMIT)
        limit_length(self.fields["workaround"], TEXT_LIMIT)

    def clean_keywords(self):
        return ", ".join(w.strip() for w in self.cleaned_data["keywords"].split(",") if w.strip())


class AnswerForm(forms.Form):
    answer = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Your answer to the agent…"}),
        strip=False,  # kept as typed when the page comes back with an error
        error_messages={"required": "Write an answer before sending it."},
    )

    def __init__(self, *args, question_id: int, **kwargs):
        super().__init__(*args, auto_id=f"q{question_id}-%s", **kwargs)
        limit_length(self.fields["answer"], questions.ANSWER_MAX_LENGTH)

    def clean_answer(self):
        answer = self.cleaned_data["answer"]
        if not answer.strip():
            raise ValidationError("Write an answer before sending it.")
        return answer


# --- The project's help desk page ------------------------------------------------------


def _queues_for(project: Project) -> list[Queue]:
    """Every queue, each with `affected`: whether the project's changes reach it."""
    through = Queue.projects.through.objects.filter(queue_id=OuterRef("pk"), project_id=project.pk)
    return list(Queue.objects.annotate(affected=Exists(through)).order_by("name", "id"))


# A ProjectDesk not read yet (None means read, and there is none).
UNREAD = object()


def _desk_of(project: Project) -> ProjectDesk | None:
    return (
        ProjectDesk.objects.select_related("intake_ticket__queue").filter(project=project).first()
    )


def _desk_form(data, project, desk, queues) -> DeskForm:
    initial = {
        "liaison": project.liaison_id,
        "queues": [q.pk for q in queues if q.affected],
        "keywords": project.keywords,
        "tell_callers": desk.tell_callers if desk else "",
        "workaround": desk.workaround if desk else "",
        "workaround_public": desk.workaround_public if desk else False,
    }
    return DeskForm(data, initial=initial, queues=queues)


def _helpdesk_page(
    request,
    project: Project,
    rights: DeskRights,
    *,
    queues=None,
    desk=UNREAD,
    desk_form=None,
    answering: tuple[int, AnswerForm] | None = None,
    status: int = 200,
):
    """Render the help desk page; `answering` is (question id, bound form with errors)
    when an answer came back with errors."""
    if queues is None:
        queues = _queues_for(project)
    if desk is UNREAD:
        desk = _desk_of(project)
    if desk_form is None and rights.can_edit:
        desk_form = _desk_form(None, project, desk, queues)
    briefing = briefing_for(project)
    if desk_form is not None and briefing.tell_callers_is_default:
        # An empty field means "the generated text": show which, greyed.
        desk_form.fields["tell_callers"].widget.attrs["placeholder"] = briefing.tell_callers
    asked = Question.objects.filter(project=project)
    open_asked, open_total = questions.open_questions(asked)
    refused_answer = answering[1] if answering else None
    for question in open_asked:
        if answering and answering[0] == question.pk:
            question.answer_form, refused_answer = answering[1], None
        elif rights.can_answer:
            question.answer_form = AnswerForm(question_id=question.pk)
    broken, broken_total = ledger.broken_promises(project)
    accuracy = ledger.accuracy_for(project)
    linked = open_linked_ticket_count(project)
    context = {
        "project": project,
        "tab": "helpdesk",
        "can_plan": rights.can_plan,
        "rights": rights,
        "is_agent": is_agent(request.user),
        "briefing": briefing,
        "desk": desk,
        "desk_form": desk_form,
        "affected_queues": [q for q in queues if q.affected],
        "open_questions": open_asked,
        "open_question_total": open_total,
        "overdue_total": sum(1 for q in open_asked if q.overdue),
        "answered_questions": questions.recently_answered(asked),
        # An answer refused for a question no longer open (answered meanwhile): shown
        # above the list with what was typed, so nothing is lost.
        "refused_answer": refused_answer,
        "broken": broken,
        "broken_total": broken_total,
        "accuracy": accuracy,
        "linked_count": min(linked, COUNT_CAP),
        "linked_capped": linked > COUNT_CAP,
        "update_preview": _update_preview(project, broken, briefing),
        "tickets_url": reverse("helpdesk:triage"),
    }
    return render(request, "liaison/inbox/project_helpdesk.html", context, status=status)


def _update_preview(project, broken, briefing) -> str:
    """The update the first waiting caller would get, to read before sending."""
    if not broken:
        return ""
    first = broken[0]
    workaround = briefing.workaround if briefing.workaround_public else ""
    return ledger.update_text(project, [(first.milestone, first.promised_date)], workaround)


@login_required
def project_helpdesk(request, key):
    """The project's help desk side: what agents tell callers (and its bulletin as
    agents see it), the affected queues and keywords, the promise ledger, and the
    questions from the help desk. POST saves the settings (liaison, owner, planners)."""
    posting = request.method == "POST"
    project, rights = get_desk_project_for(request.user, key, need="can_edit" if posting else "")
    queues = _queues_for(project)
    desk = (
        ProjectDesk.objects.select_related("intake_ticket__queue").filter(project=project).first()
    )
    data = request.POST if posting else None
    form = _desk_form(data, project, desk, queues) if rights.can_edit else None
    if posting and form.is_valid():
        data = form.cleaned_data
        try:
            services.desk_update(
                project=project,
                actor=request.user,
                liaison=data["liaison"],
                queue_ids=data["queues"],
                keywords=data["keywords"],
                tell_callers=data["tell_callers"],
                workaround=data["workaround"],
                workaround_public=data["workaround_public"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved. The bulletins in the affected queues say so now.")
            return redirect("liaison:project_helpdesk", project.key)
    return _helpdesk_page(
        request,
        project,
        rights,
        queues=queues,
        desk=desk,
        desk_form=form,
        status=400 if posting else 200,
    )


@login_required
@require_POST
def promises_update(request, key):
    """The one action of the ledger: tell every caller whose promised date no longer
    holds. Pressed twice, the second press finds nobody left to tell."""
    project, _ = get_desk_project_for(request.user, key, need="can_update_callers")
    sent = ledger.promises_send_updates(project=project, actor=request.user)
    if sent:
        messages.success(
            request,
            f"Update sent to {sent} caller{'s' if sent != 1 else ''}: a public reply on each "
            "ticket, e-mailed to the caller.",
        )
    else:
        messages.info(request, "Nobody is waiting for an update; nothing was sent.")
    return redirect(reverse("liaison:project_helpdesk", args=[project.key]) + "#promises")


@login_required
@require_POST
def question_answer(request, key, pk):
    """The project team answers a question from the help desk; the answer goes to the
    ticket as an internal note. An empty answer comes back with the text kept."""
    project, rights = get_desk_project_for(request.user, key, need="can_answer")
    question = get_object_or_404(Question, pk=pk, project=project)
    form = AnswerForm(request.POST, question_id=question.pk)
    if form.is_valid():
        try:
            questions.question_answer(
                question=question, answerer=request.user, answer=form.cleaned_data["answer"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Answer sent: it is on the ticket as an internal note.")
            return redirect(reverse("liaison:project_helpdesk", args=[project.key]) + "#questions")
    return _helpdesk_page(request, project, rights, answering=(question.pk, form), status=400)


urlpatterns = [
    path("liaison/", inbox, name="inbox"),
    path("projects/<str:key>/helpdesk/", project_helpdesk, name="project_helpdesk"),
    path(
        "projects/<str:key>/helpdesk/promises/update/",
        promises_update,
        name="project_helpdesk_update_callers",
    ),
    path(
        "projects/<str:key>/helpdesk/questions/<int:pk>/answer/",
        question_answer,
        name="question_answer",
    ),
]
