"""Following a status page by e-mail: subscribe, confirm, unsubscribe.

Everything here is reachable without logging in, so each view decides for itself:
- subscribe: only pages the visitor may read (liaison.access), and of those only the ones
  `subscriptions.check_may_subscribe` allows. The answer never says whether the address was
  subscribed already; the endpoint is rate limited per client address.
- confirm and unsubscribe: the signed token in the link is the only credential. GET shows
  a button and changes nothing (mail scanners follow links); POST acts.

CSRF: the subscribe and confirm forms carry Django's token (the status page's frame, where
the subscribe box lives, is rendered per request; only its body is cached). The
unsubscribe POST is exempt: RFC 8058 mail clients send it with no token but the signed
link, which is the credential.
"""

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from helpdesk.forms import HONEYPOT_FIELD
from helpdesk.ratelimit import RateLimit, client_address
from liaison import subscriptions
from liaison.access import get_status_project_for
from projects.models import Project


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.org"}),
    )
    # The spam trap: hidden from people by the template; robots fill it in.
    website = forms.CharField(required=False, label="Leave this empty")


def subscribe_limit() -> RateLimit:
    """Subscribe requests per client address (SUBSCRIBE_RATE_LIMIT per
    SUBSCRIBE_RATE_WINDOW seconds)."""
    from django.conf import settings

    return RateLimit(
        scope="status-subscribe",
        limit=settings.SUBSCRIBE_RATE_LIMIT,
        window=settings.SUBSCRIBE_RATE_WINDOW,
    )


def _private(response):
    """Pages whose address holds a credential (the signed links), or that answer one
    visitor's request: never in a shared cache, never in another site's Referer."""
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _project_or_login(request, slug) -> Project:
    """The project whose page the visitor may read. A visitor who is not logged in and
    cannot see it is sent to log in (whether or not it exists, so nothing is revealed);
    a logged-in one gets 404. Private pages take no subscribers, so they are 404 too."""
    try:
        project = get_status_project_for(request.user, slug)
    except Http404:
        if not request.user.is_authenticated:
            raise _LoginFirst from None
        raise
    if project.visibility == Project.Visibility.PRIVATE:
        raise Http404("No such status page")
    return project


class _LoginFirst(Exception):
    pass


def _render_box(request, project, form, *, state="form", status=200, **extra):
    """The subscribe page: the form (with what was typed and why it was refused), or the
    one answer every accepted request gets."""
    context = {"project": project, "subscribe_form": form, "subscribe_state": state, **extra}
    return _private(render(request, "liaison/subscribe/subscribe.html", context, status=status))


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request, slug):
    try:
        project = _project_or_login(request, slug)
    except _LoginFirst:
        return redirect_to_login(reverse("liaison:subscribe", args=[slug]))
    if request.method != "POST":
        if request.GET.get("sent"):
            return _render_box(request, project, None, state="sent")
        initial = {"email": request.user.email} if request.user.is_authenticated else {}
        return _render_box(request, project, SubscribeForm(initial=initial))

    if request.POST.get(HONEYPOT_FIELD, "").strip():
        return _sent(request, project)  # a robot: nothing stored, nothing sent, looks done
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _render_box(request, project, form, status=400)
    try:
        subscriptions.check_may_subscribe(request.user, project, form.cleaned_data["email"])
    except subscriptions.NotAllowed as refusal:
        form.add_error("email", str(refusal))
        return _render_box(request, project, form, status=403)
    decision = subscribe_limit().hit(client_address(request))
    if not decision.allowed:
        response = _render_box(
            request,
            project,
            form,
            status=429,
            rate_limited_minutes=max(1, round(decision.retry_after / 60)),
        )
        response["Retry-After"] = str(decision.retry_after)
        return response
    subscriptions.subscription_request(project=project, email=form.cleaned_data["email"])
    return _sent(request, project)


def _sent(request, project):
    """The one answer to every accepted request, whatever the address's history."""
    return redirect(reverse("liaison:subscribe", args=[project.slug]) + "?sent=1")


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, slug, token):
    """The confirmation link: GET asks, POST confirms."""
    try:
        subscription = subscriptions.subscription_for_confirm_token(token)
    except subscriptions.LinkInvalid:
        return _link_page(request, "confirm", "invalid", status=400)
    except subscriptions.LinkExpired:
        project = Project.objects.filter(slug=slug).exclude(visibility="private").first()
        return _link_page(request, "confirm", "expired", project=project, status=400)
    project = subscription.project
    if request.method != "POST":
        state = "already" if subscription.active else "ask"
        return _link_page(request, "confirm", state, subscription=subscription, project=project)
    try:
        subscription, now_active = subscriptions.subscription_confirm(token=token)
    except subscriptions.LinkInvalid:
        return _link_page(request, "confirm", "invalid", status=400)
    except subscriptions.LinkExpired:
        return _link_page(request, "confirm", "expired", project=project, status=400)
    state = "confirmed" if now_active else "already"
    return _link_page(request, "confirm", state, subscription=subscription, project=project)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, slug, token):
    """The unsubscribe link: GET asks, POST (a person's button, or a mail client's
    one-click "List-Unsubscribe=One-Click") ends the subscription, once."""
    try:
        if request.method != "POST":
            subscription = subscriptions.subscription_for_unsubscribe_token(token)
            return _link_page(
                request, "unsubscribe", "ask", subscription=subscription,
                project=subscription.project,
            )  # fmt: skip
        subscription = subscriptions.subscription_end(token=token)
    except subscriptions.LinkInvalid:
        return _link_page(request, "unsubscribe", "invalid", status=400)
    except subscriptions.LinkUsed:
        return _link_page(request, "unsubscribe", "used", status=410)
    return _link_page(
        request, "unsubscribe", "done", subscription=subscription, project=subscription.project
    )


def _link_page(request, kind, state, *, subscription=None, project=None, status=200):
    context = {"kind": kind, "state": state, "subscription": subscription, "project": project}
    template = f"liaison/subscribe/{kind}.html"
    return _private(render(request, template, context, status=status))


urlpatterns = [
    path("status/<slug:slug>/subscribe/", subscribe, name="subscribe"),
    path("status/<slug:slug>/subscribe/confirm/<str:token>/", confirm, name="subscribe_confirm"),
    path("status/<slug:slug>/unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
