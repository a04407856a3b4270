"""The agents' pages: triage, the ticket page and the actions on them.

Every view takes the ticket through helpdesk.access and writes through helpdesk.services.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.decorators import role_required
from config.forms import add_service_errors
from config.roles import is_agent
from helpdesk import presence, services, sla, triage
from helpdesk.access import get_ticket_for
from helpdesk.agent_forms import (
    CallForm,
    LinkForm,
    MergeForm,
    NewTicketForm,
    ReplyForm,
    SnoozeForm,
    TicketEditForm,
)
from helpdesk.models import CannedResponse, Queue, SavedView, Ticket
from helpdesk.signals import public_reply_posted
from helpdesk.views.rows import triage_rows
from projects.models import Milestone, Project

agents_only = role_required(is_agent, "The ticket views are for help desk agents.")


def _vary_on_htmx(response):
    response["Vary"] = "HX-Request"
    return response


# What a triage row, its SLA state and the next page's cursor read, and nothing else: the
# ORM loads each timestamp through a Python-level loader, and a ticket with its queue,
# requester, agent and calendar whole carried some fifteen of them a row. A column left
# out here is loaded row by row when read, which the query-count tests would catch.
TRIAGE_COLUMNS = (
    "id",
    "version",
    "number",
    "subject",
    "status",
    "priority",
    "created_at",
    "updated_at",
    "first_response_due",
    "first_response_at",
    "first_response_breached_at",
    "resolution_due",
    "resolution_breached_at",
    "resolved_at",
    "sla_paused_at",
    "queue__key",
    "requester__name",
    "requester__email",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
    "sla_policy__warn_before_minutes",
    "sla_policy__calendar__time_zone",
)


@agents_only
def triage_list(request):
    """The agents' list: filters, sort, search, keyset pages, saved views, bulk actions.

    An htmx request for the queue counts gets only that fragment (refreshed every 30 s)."""
    now = timezone.now()
    queues = Queue.objects.visible_to(request.user)
    if request.htmx and request.GET.get("fragment") == "counts":
        response = render(
            request,
            "helpdesk/triage.html#queue-counts",
            {"queues": queues.with_open_counts(), "counts": True, **_nav(request)},
        )
        return _vary_on_htmx(response)
    # The list does not wait for the counts: htmx fetches them as soon as it is shown.
    filters = triage.Filters.from_query(request.GET)
    tickets = (
        triage.filtered_tickets(request.user, filters, now=now)
        .with_list_columns()
        .select_related("sla_policy__calendar")
        .only(*TRIAGE_COLUMNS)
        .prefetch_related("tags")
    )
    page, next_cursor = triage.page_of(tickets, filters, request.GET.get("cursor", ""))
    states = sla.sla_states(page, now)
    for ticket in page:
        ticket.sla_state = states[ticket.pk]
    saved_views = SavedView.objects.filter(Q(owner=request.user) | Q(shared=True)).select_related(
        "owner"
    )
    next_params = request.GET.copy()
    next_params["cursor"] = next_cursor
    for message in filters.errors:
        messages.warning(request, message)
    tickets_url = reverse("helpdesk:triage")
    response = render(
        request,
        "helpdesk/triage.html",
        {
            "tickets": page,
            # Built in Python: the rows are most of the page's work (see views/rows.py).
            "rows": triage_rows(page, tickets_url),
            "queues": queues,
            "filters": filters,
            "saved_views": saved_views,
            "sorts": triage.SORTS,
            "statuses": triage.STATUS_CHOICES,
            "priorities": Ticket.Priority.choices,
            "types": Ticket.Type.choices,
            "sla_choices": triage.SLA_CHOICES,
            "next_query": next_params.urlencode() if next_cursor else "",
            "current_query": _query_without_cursor(request),
            "tickets_url": tickets_url,
            **_nav(request),
        },
    )
    return _vary_on_htmx(response)


def _nav(request):
    return {"current_queue": request.GET.get("queue", "")}


def _query_without_cursor(request) -> str:
    params = request.GET.copy()
    params.pop("cursor", None)
    return params.urlencode()


@agents_only
def ticket_new(request):
    """An agent logs a ticket for a caller (a phone call, someone at the desk)."""
    form = NewTicketForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_create(
                queue=data["queue"],
                subject=data["subject"],
                requester_email=data["requester_email"],
                requester_name=data["requester_name"],
                description=data["description"],
                source=data["source"],
                priority=data["priority"],
                type=data["type"],
                actor=request.user,
            )
            if data["assign_to_me"]:
                services.ticket_update(
                    ticket=ticket, actor=request.user, version=None, assignee=request.user
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"{ticket.reference} logged; the caller was e-mailed the link."
            )
            return redirect(ticket)
    status = 400 if request.method == "POST" else 200
    return render(request, "helpdesk/ticket_new.html", {"form": form}, status=status)


@agents_only
@require_POST
def take_next(request):
    """Hand this agent the next ticket; concurrent agents each get a different one."""
    ticket = services.ticket_take_next(agent=request.user)
    if ticket is None:
        messages.info(request, "Nothing is waiting in your queues. Well done.")
        return redirect("helpdesk:triage")
    messages.success(request, f"{ticket.reference} is yours now.")
    return redirect(ticket)


BULK_ACTIONS = {"assign_me", "unassign", "status", "priority", "tag", "project", "merge"}


@agents_only
@require_POST
def triage_bulk(request):
    """Apply one action to the ticked tickets. Each tick carries the version the agent
    saw; a ticket changed meanwhile is skipped and named, never overwritten."""
    action = request.POST.get("action", "")
    value = request.POST.get("value", "").strip()
    back = reverse("helpdesk:triage") + "?" + request.POST.get("query", "")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose an action for the selected tickets.")
        return redirect(back)
    picked = {}
    for item in request.POST.getlist("ticket"):
        pk, _, version = item.partition(":")
        if pk.isdigit() and version.isdigit():
            picked[int(pk)] = int(version)
    tickets = list(
        Ticket.objects.visible_to(request.user).select_related("queue").filter(pk__in=picked)
    )
    if not tickets:
        messages.error(request, "Select at least one ticket.")
        return redirect(back)
    done, skipped, refused = [], [], []
    try:
        if action == "merge":
            target, *sources = sorted(tickets, key=lambda t: t.created_at)
            for source in sources:
                services.ticket_merge(source=source, target=target, actor=request.user)
            messages.success(request, f"Merged {len(sources)} tickets into {target.reference}.")
            return redirect(back)
        project = None
        if action == "project":
            project = Project.objects.visible_to(request.user).filter(key=value.upper()).first()
            if project is None:
                messages.error(request, f"There is no project “{value}”.")
                return redirect(back)
        for ticket in tickets:
            try:
                _bulk_apply(request.user, ticket, picked[ticket.pk], action, value, project)
                done.append(ticket.reference)
            except services.StaleVersion:
                skipped.append(ticket.reference)
            except ValidationError as exc:
                refused.append(f"{ticket.reference}: {' '.join(exc.messages)}")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    if done:
        messages.success(request, f"Updated {len(done)} tickets.")
    if skipped:
        messages.warning(
            request,
            f"Skipped {', '.join(skipped)}: changed by someone else meanwhile. "
            "Check them and try again.",
        )
    for reason in refused:
        messages.error(request, reason)
    return redirect(back)


def _bulk_apply(user, ticket, version, action, value, project):
    if action == "assign_me":
        services.ticket_update(ticket=ticket, actor=user, version=version, assignee=user)
    elif action == "unassign":
        services.ticket_update(ticket=ticket, actor=user, version=version, assignee=None)
    elif action in {"status", "priority"}:
        services.ticket_update(ticket=ticket, actor=user, version=version, **{action: value})
    elif action == "tag":
        names = set(ticket.tags.values_list("name", flat=True)) | {value}
        services.ticket_update(ticket=ticket, actor=user, version=version, tags=sorted(names))
    elif action == "project":
        if ticket.version != version:
            raise services.StaleVersion(ticket)
        services.ticket_link(ticket=ticket, actor=user, project=project)


@agents_only
@require_POST
def saved_view_create(request):
    name = " ".join(request.POST.get("name", "").split())[:100]
    if not name:
        messages.error(request, "Give the view a name.")
    else:
        SavedView.objects.create(
            name=name,
            owner=request.user,
            shared=request.POST.get("shared") == "1",
            query=request.POST.get("query", "")[:1000],
        )
        messages.success(request, f"Saved the view “{name}”.")
    return redirect(reverse("helpdesk:triage") + "?" + request.POST.get("query", ""))


@agents_only
@require_POST
def saved_view_delete(request, pk):
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("helpdesk:triage")


def _ticket_context(request, ticket, **overrides):
    """Everything the ticket page shows. Forms in `overrides` (bound, with errors or a
    kept draft) replace the empty ones."""
    events = ticket.events.select_related("author", "author_contact").prefetch_related(
        "attachments"
    )
    edit_initial = {
        "version": ticket.version,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "assignee": ticket.assignee_id,
        "tags": ", ".join(tag.name for tag in ticket.tags.all()),
        "keep_requester_informed": ticket.keep_requester_informed,
    }
    canned = [
        {"title": response.title, "body": response.render(ticket=ticket, agent=request.user)}
        for response in CannedResponse.objects.for_agent(request.user, ticket.queue)
    ]
    context = {
        "ticket": ticket,
        "events": events,
        "sla_state": sla.sla_state(ticket, timezone.now()),
        "reply_form": ReplyForm(initial={"version": ticket.version, "public": "1"}),
        "edit_form": TicketEditForm(initial=edit_initial, ticket=ticket),
        "snooze_form": SnoozeForm(),
        "merge_form": MergeForm(),
        "link_form": LinkForm(initial={"project": getattr(ticket.project, "key", "")}),
        "call_form": CallForm(),
        "canned_responses": canned,
        "milestones": Milestone.objects.filter(project=ticket.project_id, completed_at=None)
        if ticket.project_id
        else [],
        "others": presence.presence_others(ticket_id=ticket.pk, user=request.user),
        "conflict": None,
    }
    context.update(overrides)
    return context


@agents_only
def ticket_detail(request, pk):
    ticket = get_ticket_for(request.user, pk)
    return render(request, "helpdesk/ticket_detail.html", _ticket_context(request, ticket))


def _conflict(request, ticket, saw_version, **forms):
    """Re-render the page at 409 with the user's draft kept and what changed meanwhile."""
    changes = list(ticket.events.select_related("author").order_by("-created_at", "-id")[:5])
    context = _ticket_context(request, ticket, **forms)
    context["conflict"] = {"saw": saw_version, "now": ticket.version, "recent": changes}
    return render(request, "helpdesk/ticket_detail.html", context, status=409)


def _files(request):
    return [
        services.NewFile(filename=upload.name, content=upload.read())
        for upload in request.FILES.getlist("attachments")
    ]


def _form_error_page(request, ticket, name, form, exc=None):
    """The ticket page again at 400, with `form` (as the user filled it) and its errors."""
    if exc is not None:
        add_service_errors(form, exc)
    context = _ticket_context(request, ticket, **{name: form})
    return render(request, "helpdesk/ticket_detail.html", context, status=400)


@agents_only
@require_POST
def ticket_reply(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_error_page(request, ticket, "reply_form", form)
    if form.cleaned_data["version"] != ticket.version:
        fresh = ReplyForm(
            initial={
                **form.cleaned_data,
                "version": ticket.version,
                "public": request.POST.get("public", "1"),
            }
        )
        return _conflict(request, ticket, form.cleaned_data["version"], reply_form=fresh)
    try:
        # One transaction: what listeners of a public reply record (e.g. the date
        # promised from the liaison's answer card) commits with the reply or not at all.
        with transaction.atomic():
            event = services.ticket_reply(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                public=form.cleaned_data["public"],
                files=_files(request),
            )
            if event.public:
                public_reply_posted.send(
                    sender=Ticket,
                    ticket=event.ticket,
                    event=event,
                    author=request.user,
                    data=request.POST,
                )
    except ValidationError as exc:
        return _form_error_page(request, ticket, "reply_form", form, exc)
    messages.success(
        request, "Reply sent." if form.cleaned_data["public"] else "Internal note added."
    )
    return redirect(ticket)


@agents_only
@require_POST
def ticket_edit(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = TicketEditForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _form_error_page(request, ticket, "edit_form", form)
    data = form.cleaned_data
    try:
        services.ticket_update(
            ticket=ticket,
            actor=request.user,
            version=data["version"],
            status=data["status"],
            priority=data["priority"],
            type=data["type"],
            assignee=data["assignee"],
            tags=data["tags"],
            keep_requester_informed=data["keep_requester_informed"],
        )
    except services.StaleVersion as exc:
        kept = TicketEditForm(
            initial={**request.POST.dict(), "version": exc.current.version}, ticket=ticket
        )
        return _conflict(request, exc.current, data["version"], edit_form=kept)
    except ValidationError as exc:
        return _form_error_page(request, ticket, "edit_form", form, exc)
    messages.success(request, "Saved.")
    return redirect(ticket)


@agents_only
@require_POST
def ticket_assign_me(request, pk):
    """The `a` shortcut: take the ticket, whatever its version (assigning is idempotent)."""
    ticket = get_ticket_for(request.user, pk, write=True)
    try:
        services.ticket_update(
            ticket=ticket, actor=request.user, version=None, assignee=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{ticket.reference} is yours now.")
    return redirect(request.POST.get("next") or ticket.get_absolute_url())


@agents_only
@require_POST
def ticket_snooze(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return _form_error_page(request, ticket, "snooze_form", form)
    wake = form.cleaned_data["wake"]
    milestone = None
    if form.cleaned_data["milestone"] and not wake:
        milestone = (
            Milestone.objects.filter(pk=form.cleaned_data["milestone"], project=ticket.project_id)
            .select_related("project")
            .first()
            if ticket.project_id
            else None
        )
        if milestone is None:
            form.add_error("milestone", "Choose a milestone of the linked project.")
            return _form_error_page(request, ticket, "snooze_form", form)
    until = None if wake or milestone else form.cleaned_data["until"]
    if until is None and milestone is None and not wake:
        form.add_error("until", "Choose when the ticket should come back.")
        return _form_error_page(request, ticket, "snooze_form", form)
    try:
        services.ticket_snooze(ticket=ticket, actor=request.user, until=until, milestone=milestone)
    except ValidationError as exc:
        return _form_error_page(request, ticket, "snooze_form", form, exc)
    messages.success(request, "Snoozed." if until or milestone else "Woken up.")
    return redirect(ticket)


@agents_only
@require_POST
def ticket_merge(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = MergeForm(request.POST)
    if not form.is_valid():
        return _form_error_page(request, ticket, "merge_form", form)
    key, _, number = form.cleaned_data["target"].strip().upper().rpartition("-")
    target = (
        Ticket.objects.visible_to(request.user).filter(queue__key=key, number=number).first()
        if number.isdigit()
        else None
    )
    if target is None:
        form.add_error("target", "No ticket with that reference that you may see.")
        return _form_error_page(request, ticket, "merge_form", form)
    try:
        services.ticket_merge(source=ticket, target=target, actor=request.user)
    except ValidationError as exc:
        return _form_error_page(request, ticket, "merge_form", form, exc)
    messages.success(request, f"{ticket.reference} was merged into this ticket.")
    return redirect(target)


@agents_only
@require_POST
def ticket_link(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = LinkForm(request.POST)
    if not form.is_valid():
        return _form_error_page(request, ticket, "link_form", form)
    key = form.cleaned_data["project"].strip().upper()
    project = Project.objects.visible_to(request.user).filter(key=key).first() if key else None
    if key and project is None:
        form.add_error("project", f"There is no project “{key}”.")
        return _form_error_page(request, ticket, "link_form", form)
    milestone = None
    if form.cleaned_data["milestone"] and project:
        milestone = project.milestones.filter(pk=form.cleaned_data["milestone"]).first()
    try:
        services.ticket_link(
            ticket=ticket, actor=request.user, project=project, milestone=milestone
        )
    except ValidationError as exc:
        return _form_error_page(request, ticket, "link_form", form, exc)
    messages.success(request, f"Linked to {project}." if project else "Unlinked.")
    return redirect(ticket)


@agents_only
@require_POST
def ticket_call(request, pk):
    ticket = get_ticket_for(request.user, pk, write=True)
    form = CallForm(request.POST)
    if not form.is_valid():
        return _form_error_page(request, ticket, "call_form", form)
    services.ticket_log_call(ticket=ticket, agent=request.user, body=form.cleaned_data["body"])
    messages.success(request, "Call logged.")
    return redirect(ticket)


@agents_only
@require_POST
def ticket_presence(request, pk):
    """htmx, every few seconds from an open ticket page: report this agent, answer with
    who else is here and whether the ticket changed since the page was loaded."""
    ticket = get_ticket_for(request.user, pk)
    presence.presence_touch(
        ticket_id=ticket.pk, user=request.user, typing=request.POST.get("typing") == "1"
    )
    seen = request.POST.get("version", "")
    context = {
        "others": presence.presence_others(ticket_id=ticket.pk, user=request.user),
        "ticket": ticket,
        "changed": seen.isdigit() and int(seen) != ticket.version,
    }
    return render(request, "helpdesk/_presence.html", context)
