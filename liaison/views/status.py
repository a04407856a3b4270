"""Status pages: the portfolio, one project's page, its Atom feed and calendar, and the
signed links a project's planners hand out.

Access is decided by liaison.status.status_access (the page, the feed and the calendar
share it); the page body comes from the cache there. The page's frame (header, feed
links, subscribe form, the team's tools) is rendered per request: it is cheap, and it
carries the per-visitor parts (CSRF token, the signed-link key) that must never be cached.
"""

from functools import partial

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from config.forms import add_service_errors
from config.roles import is_staff_role
from liaison import feeds, status
from liaison.models import StatusLink
from projects.access import get_project_page_for
from projects.models import Project, StatusUpdate
from projects.selectors import name_cursor, name_cursor_decode, open_milestones

PORTFOLIO_PAGE = 60
LINKS_SHOWN = 100


def _not_indexed(response, project: Project, access: status.StatusAccess):
    """Pages that are not public stay out of shared caches and search engines."""
    if project.visibility != Project.Visibility.PUBLIC or access.key:
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---------------------------------------------------------------------------- portfolio


def portfolio_for(user):
    """The current projects whose status page `user` may read: public ones for anyone,
    plus shared ones for stakeholders, every one for agents and PMs, and the team's own."""
    projects = Project.objects.visible_to(user)
    if user.is_authenticated and not is_staff_role(user):
        projects = Project.objects.filter(
            Q(pk__in=projects.values("pk")) | status.team_filter(user)
        )
    latest = StatusUpdate.objects.filter(project=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        projects.filter(archived_at__isnull=True)
        .annotate(last_update_at=Subquery(latest.values("created_at")[:1]))
        .prefetch_related(open_milestones())
        .order_by("name", "id")
    )


def status_index(request):
    """The portfolio: every status page the visitor may read (anonymous: public ones)."""
    projects = portfolio_for(request.user)
    after = name_cursor_decode(request.GET.get("after", ""))
    if after is not None:
        name, pk = after
        projects = projects.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
    page = list(projects[: PORTFOLIO_PAGE + 1])
    next_cursor = ""
    if len(page) > PORTFOLIO_PAGE:
        page = page[:PORTFOLIO_PAGE]
        next_cursor = name_cursor(page[-1])
    return render(
        request,
        "liaison/status_index.html",
        {"projects": page, "next_cursor": next_cursor, "paged": after is not None},
    )


# ---------------------------------------------------------------------------- one page


def _served_alike(request) -> bool:
    """A visitor who sees exactly what every anonymous visitor sees: no session (so no
    user and no messages), no flash-message cookie, no signed-link key."""
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and "key" not in request.GET
    )


def status_page(request, slug):
    if _served_alike(request):
        project_id = status.public_project_id(slug)
        if project_id is not None:
            page = status.cached(
                project_id, "page:anonymous", partial(_render_anonymous, request, slug)
            )
            # The cached page is our own template's output (user text through `usertext`).
            html = page.replace(status.csrf_placeholder(), get_token(request))
            return HttpResponse(html)
    access = status.status_access(request.user, slug, request.GET.get("key", ""))
    return _not_indexed(
        render(request, "liaison/status_page.html", _page_context(request, access)),
        access.project,
        access,
    )


def _page_context(request, access: status.StatusAccess) -> dict:
    project = access.project
    # Our own template's output, rendered with autoescaping and user text through
    # `usertext`; cached as a string, so it is marked safe again here.
    body = mark_safe(status.page_body(project, access.audience))  # noqa: S308
    return {
        "project": project,
        "access": access,
        "body": body,
        "feed_url": feeds.feed_url(project, "liaison:status_feed", access.key),
        "calendar_url": feeds.feed_url(project, "liaison:status_calendar", access.key),
        "can_manage_links": access.is_team and status.can_manage_links(request.user, project),
        "is_staff": access.is_team and is_staff_role(request.user),
    }


def _render_anonymous(request, slug) -> str:
    """The whole page as every anonymous visitor sees it, with a placeholder for the
    CSRF token (the context's value wins over the context processor's)."""
    access = status.status_access(AnonymousUser(), slug)
    context = _page_context(request, access)
    context["csrf_token"] = status.csrf_placeholder()
    return render_to_string("liaison/status_page.html", context, request=request)


def _feed(request, slug, name: str, build):
    """A feed is the same for everyone who may read it (it names nobody), so without a
    signed-link key (whose links must carry it) it comes from the cache; a public one
    without even asking who the visitor is."""
    key = request.GET.get("key", "")
    if not key:
        project_id = status.public_project_id(slug)
        if project_id is not None:
            content = status.cached(
                project_id, name, lambda: build(Project.objects.get(pk=project_id))
            )
            return content, None
    access = status.status_access(request.user, slug, key)
    if access.key:
        return build(access.project, key=access.key), access
    return status.cached(access.project.pk, name, partial(build, access.project)), access


def _feed_headers(response, access):
    if access is not None:
        _not_indexed(response, access.project, access)
    return response


def status_feed(request, slug):
    """Atom: status updates and milestone moves."""
    xml, access = _feed(request, slug, "atom", feeds.atom_feed)
    response = HttpResponse(xml, content_type="application/atom+xml; charset=utf-8")
    return _feed_headers(response, access)


def status_calendar(request, slug):
    """iCalendar: the milestones as all-day events."""
    ics, access = _feed(request, slug, "ics", feeds.milestones_calendar)
    response = HttpResponse(ics, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{slug}-milestones.ics"'
    return _feed_headers(response, access)


# ---------------------------------------------------------------------------- signed links


class StatusLinkForm(forms.Form):
    label = forms.CharField(
        max_length=100,
        label="Who is it for?",
        help_text="For example “Finance leads” or “Supplier: Acme”. Only you and other "
        "planners see this.",
    )


def _links_project(request, key: str) -> Project:
    """The project whose links the user manages: planners only (403 for other staff,
    404 for a project they may not see)."""
    project = get_project_page_for(
        request.user, key, write=True, refusal="Only the project's planners hand out links."
    )
    return project


@login_required
def status_links(request, key):
    """Signed links to a "stakeholders" status page for people without an account."""
    project = _links_project(request, key)
    form = StatusLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            link = status.status_link_create(
                project=project, label=form.cleaned_data["label"], actor=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Link for “{link.label}” created. Copy it below.")
            return redirect("liaison:status_links", key=project.key)
    links = list(
        StatusLink.objects.filter(project=project).select_related("created_by")[:LINKS_SHOWN]
    )
    for link in links:
        link.url = status.link_url(link) if link.revoked_at is None else ""
    return render(
        request,
        "liaison/status_links.html",
        {"project": project, "form": form, "links": links, "tab": "status"},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def status_link_revoke(request, key, pk):
    project = _links_project(request, key)
    link = StatusLink.objects.filter(project=project, pk=pk).first()
    if link is None:
        raise Http404("No such link")
    already = link.revoked_at is not None
    status.status_link_revoke(link=link, actor=request.user)
    if already:
        messages.info(request, f"The link for “{link.label}” was already revoked.")
    else:
        messages.success(request, f"The link for “{link.label}” no longer opens the page.")
    return redirect("liaison:status_links", key=project.key)
