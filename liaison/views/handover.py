"""The handover page of a project: readiness criteria, the support lead's sign-off, the
support queues and hypercare.

Who may do what: agents and project managers read (stakeholders 403, a project they may
not see 404, anonymous users the login page); the project's planners and its liaison
change the plan; support leads (permission `liaison.sign_off_handover`) sign it off.
Every write goes through liaison.handover; a form with errors comes back with status 400
and what was typed. A constant number of queries, however many criteria.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.forms import add_service_errors
from helpdesk.models import Queue
from liaison import handover as service
from liaison.models import HandoverCriterion, HandoverPlan
from projects.access import can_plan
from projects.forms import person_label

Status = HandoverCriterion.Status
CLEARED = (
    "The handover was signed off; this change cleared the sign-off, so the support lead "
    "signs it off again."
)


# --- Forms ------------------------------------------------------------------------------


class CriterionForm(forms.Form):
    """One criterion's row. Owners come as a list of choices shared by every row, so the
    people are read once, not once per row."""

    owner = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    evidence_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", label="Evidence link"
    )
    status = forms.ChoiceField(choices=Status.choices)

    def __init__(self, *args, owner_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Nobody yet"), *owner_choices]
        self.fields["evidence_url"].widget.attrs["placeholder"] = "https://…"


class AddCriterionForm(forms.Form):
    name = forms.CharField(max_length=200, label="New criterion")


class SettingsForm(forms.Form):
    support_queue = forms.ModelChoiceField(
        queryset=Queue.objects.none(),
        required=False,
        empty_label="Not named yet",
        help_text="Takes the project's tickets once hypercare is over.",
    )
    second_line_queue = forms.ModelChoiceField(
        queryset=Queue.objects.none(),
        required=False,
        label="Second line",
        empty_label="None: tickets stay where they are",
        help_text="The project team's queue: new tickets go here during hypercare.",
    )
    hypercare_days = forms.IntegerField(
        min_value=0,
        max_value=service.MAX_HYPERCARE_DAYS,
        label="Hypercare days",
        help_text="Days after the go-live the project team stays on call.",
    )

    def __init__(self, *args, queues, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("support_queue", "second_line_queue"):
            self.fields[name].queryset = queues


# --- Reading ----------------------------------------------------------------------------


def _plan(project) -> HandoverPlan:
    """The plan with what the page shows of it, created on the first visit."""
    plans = HandoverPlan.objects.select_related(
        "support_queue", "second_line_queue", "signed_off_by"
    )
    plan = plans.filter(project=project).first()
    if plan is None:
        plan = plans.get(pk=service.handover_plan_for(project).pk)
    project.handover = plan  # the head's hypercare badge reads it without a query
    return plan


def _people(criteria) -> dict:
    """Who may own a criterion, by id: agents and project managers, plus the current
    owners (one who has since lost the role stays choosable)."""
    people = {user.pk: user for user in service.people_for_criteria()}
    for criterion in criteria:
        if criterion.owner is not None:
            people.setdefault(criterion.owner.pk, criterion.owner)
    return people


def _owner_choices(people: dict) -> list[tuple[int, str]]:
    return sorted(
        ((pk, person_label(user)) for pk, user in people.items()), key=lambda c: c[1].lower()
    )


def _criterion_forms(criteria, owner_choices, data=None) -> list[tuple]:
    rows = []
    for criterion in criteria:
        prefix = f"c{criterion.pk}"
        bound = data if data is not None and f"{prefix}-status" in data else None
        form = CriterionForm(
            bound,
            prefix=prefix,
            owner_choices=owner_choices,
            initial={
                "owner": criterion.owner_id,
                "evidence_url": criterion.evidence_url,
                "status": criterion.status,
            },
        )
        rows.append((criterion, form))
    return rows


def _render(request, project, plan, *, status=200, **forms_given):
    user = request.user
    planner = can_plan(user, project)
    editor = service.can_edit_handover(user, project, planner=planner)
    criteria = forms_given.pop("criteria", None)
    if criteria is None:
        criteria = list(plan.criteria.select_related("owner"))
    score = service.readiness(criteria)
    met = sum(1 for criterion in criteria if criterion.status in service.MET)
    context = {
        "project": project,
        "tab": "handover",
        "can_plan": planner,
        "plan": plan,
        "criteria": criteria,
        "readiness": score,
        "met": met,
        "can_edit": editor,
        "can_sign_off": service.can_sign_off(user),
        "refusals": service.sign_off_refusals(plan, criteria),
        "sign_off_errors": forms_given.get("sign_off_errors"),
        "hypercare": service.hypercare_state(plan),
        "today": timezone.localdate(),
    }
    if plan.hypercare_until is not None:
        context["days_left"] = (plan.hypercare_until - context["today"]).days
    if editor:
        rows = forms_given.get("rows")
        if rows is None:
            rows = _criterion_forms(criteria, _owner_choices(_people(criteria)))
        queues = Queue.objects.order_by("name", "id")
        context.update(
            rows=rows,
            criteria_errors=any(form.errors for _, form in rows),
            add_form=forms_given.get("add_form") or AddCriterionForm(),
            settings_form=forms_given.get("settings_form")
            or SettingsForm(
                queues=queues,
                initial={
                    "support_queue": plan.support_queue_id,
                    "second_line_queue": plan.second_line_queue_id,
                    "hypercare_days": plan.hypercare_days,
                },
            ),
        )
    return render(request, "liaison/handover/handover.html", context, status=status)


def _back(project, anchor: str = ""):
    return redirect(reverse("liaison:handover", args=[project.key]) + anchor)


@login_required
def handover(request, key):
    """The plan (GET); POST saves the criteria table: only rows that changed are written,
    and any change clears an existing sign-off."""
    writing = request.method == "POST"
    project = service.get_handover_project_for(request.user, key, write=writing)
    plan = _plan(project)
    if not writing:
        return _render(request, project, plan)
    criteria = list(plan.criteria.select_related("owner"))
    people = _people(criteria)
    rows = _criterion_forms(criteria, _owner_choices(people), request.POST)
    valid = [form.is_valid() for _, form in rows if form.is_bound]  # every row's errors
    if not all(valid):
        return _render(request, project, plan, status=400, criteria=criteria, rows=rows)
    cleared = saved = 0
    failing = None
    try:
        with transaction.atomic():  # all rows or none
            for criterion, form in rows:
                if not form.is_bound or not form.has_changed():
                    continue
                failing, data = form, form.cleaned_data
                _, was_cleared = service.criterion_update(
                    criterion=criterion,
                    actor=request.user,
                    owner=people.get(data["owner"]),
                    evidence_url=data["evidence_url"],
                    status=data["status"],
                )
                saved += 1
                cleared += was_cleared
    except ValidationError as exc:
        add_service_errors(failing, exc)
        return _render(request, project, plan, status=400, criteria=criteria, rows=rows)
    if saved:
        messages.success(request, "Criteria saved." + (f" {CLEARED}" if cleared else ""))
    else:
        messages.info(request, "Nothing to save: no criterion changed.")
    return _back(project, "#criteria")


@login_required
@require_POST
def criterion_add(request, key):
    project = service.get_handover_project_for(request.user, key, write=True)
    plan = _plan(project)
    form = AddCriterionForm(request.POST)
    if form.is_valid():
        try:
            criterion, cleared = service.criterion_add(
                plan=plan, name=form.cleaned_data["name"], actor=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"“{criterion.name}” added." + (f" {CLEARED}" if cleared else "")
            )
            return _back(project, "#criteria")
    return _render(request, project, plan, status=400, add_form=form)


@login_required
@require_POST
def criterion_remove(request, key, pk):
    project = service.get_handover_project_for(request.user, key, write=True)
    plan = _plan(project)
    criterion = get_object_or_404(HandoverCriterion, plan=plan, pk=pk)
    criterion.plan = plan
    cleared = service.criterion_remove(criterion=criterion, actor=request.user)
    messages.success(request, f"“{criterion.name}” removed." + (f" {CLEARED}" if cleared else ""))
    return _back(project, "#criteria")


@login_required
@require_POST
def settings(request, key):
    project = service.get_handover_project_for(request.user, key, write=True)
    plan = _plan(project)
    form = SettingsForm(request.POST, queues=Queue.objects.order_by("name", "id"))
    if form.is_valid():
        try:
            _, cleared = service.handover_settings_update(
                plan=plan, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, "Handover settings saved." + (f" {CLEARED}" if cleared else "")
            )
            return _back(project)
    return _render(request, project, plan, status=400, settings_form=form)


@login_required
@require_POST
def sign_off(request, key):
    """The support lead accepts the project; refused (400, with the reasons) until
    readiness is 100 and a support queue is named."""
    project = service.get_handover_project_for(request.user, key)
    if not service.can_sign_off(request.user):
        raise PermissionDenied("Only a support lead may sign off a handover.")
    plan = _plan(project)
    try:
        service.handover_sign_off(plan=plan, actor=request.user)
    except ValidationError as exc:
        errors = [message for messages_ in exc.message_dict.values() for message in messages_]
        return _render(request, project, plan, status=400, sign_off_errors=errors)
    messages.success(request, f"Handover of {project.key} signed off: support takes it over.")
    return _back(project)


urlpatterns = [
    path("projects/<str:key>/handover/", handover, name="handover"),
    path("projects/<str:key>/handover/criteria/", criterion_add, name="handover_criterion_add"),
    path(
        "projects/<str:key>/handover/criteria/<int:pk>/remove/",
        criterion_remove,
        name="handover_criterion_remove",
    ),
    path("projects/<str:key>/handover/settings/", settings, name="handover_settings"),
    path("projects/<str:key>/handover/sign-off/", sign_off, name="handover_sign_off"),
]
