"""What the agent sees of the bridge: bulletin banners (a page, and the fragment the triage
page polls), "ask the project" and one-click linking from the ticket page's answer card.

Tickets come through helpdesk.access; writes go through services.
"""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from config.decorators import role_required
from config.forms import add_service_errors
from config.roles import is_agent
from helpdesk import services as helpdesk_services
from helpdesk.access import get_ticket_for
from liaison import desk

agents_only = role_required(is_agent, "Project bulletins and answers are for help desk agents.")


def _vary_on_htmx(response):
    response["Vary"] = "HX-Request"
    return response


def bulletins(request):
    """The bulletins of the agent's queues: a page of its own, or (htmx) the banner
    fragment the triage page polls. A poll that names the fingerprint of what it shows
    gets 204 while nothing changed, so the banners are not redrawn under the reader."""
    if request.htmx and not request.user.is_authenticated:
        # The session ended under an open triage page: send the whole page to the log-in
        # form (and back), rather than draw the log-in form where the banners were.
        back = request.htmx.current_url_abs_path or reverse("helpdesk:triage")
        response = HttpResponse()
        response["HX-Redirect"] = redirect_to_login(back).url
        return _vary_on_htmx(response)
    return _bulletins(request)


@agents_only
def _bulletins(request):
    queue_slug = request.GET.get("queue", "")[:50]
    rows = desk.bulletins_for(request.user, queue_slug)
    fingerprint = desk.bulletins_fingerprint(rows)
    if request.htmx and request.GET.get("v") == fingerprint:
        return _vary_on_htmx(HttpResponse(status=204))
    poll = {"v": fingerprint}
    if queue_slug:
        poll["queue"] = queue_slug
    context = {"bulletins": rows, "poll_query": urlencode(poll), "full_page": not request.htmx}
    template = "liaison/desk/bulletins.html"
    if request.htmx:
        template += "#bulletins"
    return _vary_on_htmx(render(request, template, context))


def _questions_context(ticket, form=None):
    return {
        "ticket": ticket,
        "questions": desk.questions_of(ticket),
        "ask_form": form or desk.AskForm(initial={"due_at": desk.default_due_at(timezone.now())}),
    }


@agents_only
def ask(request, pk):
    """Ask the ticket's project team a question. From the answer card (htmx) the card's
    question list comes back; without JavaScript, or to fix a mistake, a small page."""
    ticket = get_ticket_for(request.user, pk, write=request.method == "POST")
    if ticket.project_id is None:
        messages.error(request, "Link the ticket to a project before asking its team.")
        return redirect(ticket)
    form = desk.AskForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                desk.question_ask(
                    ticket=ticket,
                    asked_by=request.user,
                    text=form.cleaned_data["text"],
                    due_at=form.cleaned_data["due_at"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
        if not form.errors:
            if request.htmx:
                response = render(
                    request, "liaison/desk/_questions.html", _questions_context(ticket)
                )
                return _vary_on_htmx(response)
            messages.success(request, f"Asked the {ticket.project.key} team.")
            return redirect(ticket)
    else:
        form = desk.AskForm(initial={"due_at": desk.default_due_at(timezone.now())})
    status = 400 if form.errors else 200
    if request.htmx:
        context = _questions_context(ticket, form)
        response = render(request, "liaison/desk/_questions.html", context, status=status)
        return _vary_on_htmx(response)
    context = {**_questions_context(ticket, form), "project": ticket.project}
    return _vary_on_htmx(render(request, "liaison/desk/ask.html", context, status=status))


@agents_only
@require_POST
def link(request, pk):
    """One click on a suggestion links the ticket to that project."""
    ticket = get_ticket_for(request.user, pk, write=True)
    project = desk.linkable_project(request.user, request.POST.get("project", ""))
    if project is None:
        messages.error(request, "That project cannot be linked: it is closed, archived or gone.")
        return redirect(ticket)
    if ticket.project_id not in (None, project.pk):
        messages.warning(
            request,
            f"{ticket.reference} was linked to {ticket.project} meanwhile; nothing changed.",
        )
        return redirect(ticket)
    try:
        helpdesk_services.ticket_link(ticket=ticket, actor=request.user, project=project)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Linked to {project}.")
    return redirect(ticket)


urlpatterns = [
    path("desk/bulletins/", bulletins, name="desk_bulletins"),
    path("desk/tickets/<int:pk>/ask/", ask, name="desk_ask"),
    path("desk/tickets/<int:pk>/link/", link, name="desk_link"),
]
