"""Pages for callers, who have no account: the public ticket form and the requester link.

Everything here is reachable without logging in, so each view decides for itself what a
caller may see: the requester link shows public timeline entries only (filtered here,
before any template), and the form is rate limited per client address.
"""

import logging

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from config.forms import add_service_errors
from helpdesk.access import get_ticket_by_secret
from helpdesk.forms import (
    HONEYPOT_FIELD,
    SCORE_CHOICES,
    CallerRatingForm,
    CallerReplyForm,
    CallerTicketForm,
)
from helpdesk.models import Attachment, Queue, SatisfactionRating, Ticket
from helpdesk.ratelimit import client_address, public_submit_limit
from helpdesk.services import rating_submit, ticket_create, ticket_reply_from_requester

logger = logging.getLogger(__name__)

# The confirmation page's address carries this signed token; it is valid for a day.
CONFIRMATION_SALT = "helpdesk.public.submitted"
CONFIRMATION_MAX_AGE = 24 * 60 * 60
STATUS_FOR_CALLER = {
    Ticket.Status.NEW: "We have your request and will look at it soon.",
    Ticket.Status.OPEN: "We are working on it.",
    Ticket.Status.PENDING: "We are waiting for an answer from you: reply below.",
    Ticket.Status.ON_HOLD: "On hold: we are waiting for something outside our hands.",
    Ticket.Status.RESOLVED: "We think this is solved. If it is not, reply and we reopen it.",
    Ticket.Status.CLOSED: "This ticket is closed.",
}


# What a reply does to the ticket, said before the caller writes it.
REPLY_HINT = {
    Ticket.Status.PENDING: "Your answer goes straight back to the team working on it.",
    Ticket.Status.ON_HOLD: "Replying takes this ticket off hold.",
    Ticket.Status.RESOLVED: "Replying reopens this ticket.",
}


def _private(response):
    """Pages whose address or content is the caller's credential: keep them out of
    shared caches, and out of the Referer header of anything that leads off the site,
    such as a link in an agent's reply. Not "no-referrer": on a page with that policy
    browsers send `Origin: null` with the page's own forms, and the CSRF check refuses
    every reply."""
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _public_queue(slug) -> Queue:
    return get_object_or_404(Queue, slug=slug, is_public=True)


@require_http_methods(["GET", "HEAD", "POST"])
def submit_ticket(request, slug):
    """The public form of a queue that takes submissions from the web."""
    queue = _public_queue(slug)
    if request.method != "POST":
        return _submit_page(request, queue, CallerTicketForm())

    if request.POST.get(HONEYPOT_FIELD, "").strip():
        # A robot filled in the field people never see: store nothing, look successful.
        logger.info("public form of %s: honeypot filled, nothing created", queue.slug)
        return redirect(_confirmation_url(queue, None))

    form = CallerTicketForm(request.POST, request.FILES)
    if not form.is_valid():
        return _submit_page(request, queue, form, status=400)

    decision = public_submit_limit().hit(client_address(request))
    if not decision.allowed:
        minutes = max(1, round(decision.retry_after / 60))
        response = _submit_page(
            request,
            queue,
            form,
            status=429,
            rate_limited_minutes=minutes,
        )
        response["Retry-After"] = str(decision.retry_after)
        return response

    data = form.cleaned_data
    try:
        ticket = ticket_create(
            queue=queue,
            subject=data["subject"],
            requester_email=data["email"],
            requester_name=data["name"],
            description=data["description"],
            source=Ticket.Source.WEB,
            files=data["attachments"],
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _submit_page(request, queue, form, status=400)
    return redirect(_confirmation_url(queue, ticket))


def _submit_page(request, queue, form, *, status=200, rate_limited_minutes=None):
    return _private(
        render(
            request,
            "helpdesk/public/submit.html",
            {
                "queue": queue,
                "form": form,
                # Browsers never refill a file input: say so when files were sent.
                "files_dropped": form.is_bound and bool(request.FILES),
                "rate_limited_minutes": rate_limited_minutes,
            },
            status=status,
        )
    )


def _confirmation_url(queue, ticket) -> str:
    token = signing.dumps({"t": ticket.pk if ticket else None}, salt=CONFIRMATION_SALT)
    return reverse("helpdesk:submitted", args=[queue.slug, token])


def submitted(request, slug, token):
    """The confirmation after the form: reference and requester link.

    Reached only through the signed token the form redirected to, so no one finds it
    by counting ticket numbers; the token expires after a day (the link was e-mailed)."""
    queue = _public_queue(slug)
    try:
        payload = signing.loads(token, salt=CONFIRMATION_SALT, max_age=CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired:
        return _private(
            render(
                request,
                "helpdesk/public/submitted.html",
                {"queue": queue, "expired": True},
                status=410,
            )
        )
    except signing.BadSignature:
        raise Http404("No such confirmation") from None
    ticket = None
    if payload.get("t") is not None:
        ticket = get_object_or_404(
            Ticket.objects.select_related("queue", "requester"), pk=payload["t"], queue=queue
        )
    context = {"queue": queue, "ticket": ticket}
    if ticket is not None:
        context["requester_url"] = request.build_absolute_uri(ticket.get_requester_url())
    return _private(render(request, "helpdesk/public/submitted.html", context))


def _requester_page(request, ticket, *, reply_form=None, rating_form=None, status=200):
    """Render the caller's page. Only public events, with their attachments, leave here."""
    events = (
        ticket.events.filter(public=True)
        .select_related("author", "author_contact")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
    )
    rating = None
    if ticket.status in Ticket.CLOSED_STATUSES:
        rating = SatisfactionRating.objects.filter(ticket=ticket).first()
    closed = ticket.status == Ticket.Status.CLOSED
    context = {
        "ticket": ticket,
        "events": events,
        "for_requester": True,
        "status_text": STATUS_FOR_CALLER.get(ticket.status, ""),
        "closed": closed,
        "reply_hint": REPLY_HINT.get(ticket.status, ""),
        "reply_form": reply_form or CallerReplyForm(),
        "files_dropped": reply_form is not None and bool(request.FILES),
        "rating": rating,
        "rating_label": dict(SCORE_CHOICES).get(rating.score, "") if rating else "",
        "can_rate": ticket.status in Ticket.CLOSED_STATUSES and rating is None,
        "rating_form": rating_form or CallerRatingForm(),
        "new_request_url": (
            reverse("helpdesk:submit", args=[ticket.queue.slug]) if ticket.queue.is_public else ""
        ),
    }
    return _private(render(request, "helpdesk/requester_ticket.html", context, status=status))


def requester_ticket(request, secret):
    """The caller's view through their secret link: status, public timeline, reply form,
    and the rating once the ticket is resolved."""
    ticket = get_ticket_by_secret(secret)
    return _requester_page(request, ticket)


@require_POST
def requester_reply(request, secret):
    """The caller writes back; reopens a pending, on-hold or resolved ticket. A closed
    ticket takes no more replies: the draft comes back with the way to a new request."""
    ticket = get_ticket_by_secret(secret)
    form = CallerReplyForm(request.POST, request.FILES)
    if ticket.status == Ticket.Status.CLOSED:
        return _requester_page(request, ticket, reply_form=form, status=409)
    if not form.is_valid():
        return _requester_page(request, ticket, reply_form=form, status=400)
    try:
        event = ticket_reply_from_requester(
            ticket=ticket, body=form.cleaned_data["body"], files=form.cleaned_data["attachments"]
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _requester_page(request, ticket, reply_form=form, status=400)
    messages.success(request, "Thank you, your reply was added.")
    return redirect(f"{ticket.get_requester_url()}#event-{event.pk}")


@require_POST
def requester_rating(request, secret):
    """The caller rates a resolved or closed ticket, once."""
    ticket = get_ticket_by_secret(secret)
    form = CallerRatingForm(request.POST)
    if not form.is_valid():
        return _requester_page(request, ticket, rating_form=form, status=400)
    try:
        rating_submit(
            ticket=ticket, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _requester_page(request, ticket, rating_form=form, status=409)
    # No flash message: the page itself now thanks the caller and shows the score.
    return redirect(f"{ticket.get_requester_url()}#rating")
