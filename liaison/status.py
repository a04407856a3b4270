"""Status pages: who may read one, what it shows, and the cache that serves it.

Access. `status_access(user, slug, key)` is the door of the page, its Atom feed and its
calendar. It asks `liaison.access.get_status_project_for` first (public pages for anyone;
stakeholders for their projects; agents and PMs for every project) and then tries, in
order, a signed link (`?key=`, a `StatusLink` that is not revoked, for a page whose
visibility is "stakeholders" or "public") and the project team (owner, liaison, members)
for a project their role alone would not show them. Anything else is a 404, so a private
page's existence stays secret.

Audience. What a reader sees depends only on their class: `public` (anyone on a public
page: no names of people), `reader` (stakeholders and signed-link holders) and `team`
(the project team and staff roles). The rendered body of the page is cached per
(project, audience) in Django's cache (Redis in production) together with the project's
cache version; the receivers at the bottom give the project a new version on commit of
anything the page shows, so the next request renders afresh. For anonymous visitors the
whole page is cached (see "anonymous readers"): one query (is the page still public?)
and one cache round trip per request.

Signed links. A link's token is Django's signing over "<link id>.<created stamp>" with a
salt of our own: unforgeable without SECRET_KEY, different for every link ever made
(even if ids are reused after a restore), and revocable because every use reads the
link row and refuses a revoked one.
"""

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac

from config.roles import is_staff_role
from helpdesk.models import Queue
from liaison.access import get_status_project_for
from liaison.models import Bulletin, ProjectDesk, StatusLink
from liaison.signals import event_applied
from projects.models import Milestone, MilestoneSlip, Project, StatusUpdate
from projects.selectors import expected_date
from projects.signals import project_event_recorded

logger = logging.getLogger(__name__)

PUBLIC, READER, TEAM = "public", "reader", "team"
AUDIENCES = (PUBLIC, READER, TEAM)

# How long a rendered body may be served before it is rendered again even if nothing
# changed (it also expires at midnight: "upcoming" and "in 3 days" depend on the day).
BODY_SECONDS = 3600
RECENT_UPDATES = 6  # the latest is the summary; the others are "recent updates"
SLIPS_LOADED = 200  # the project's newest moves; each milestone shows its own
SLIPS_SHOWN = 8  # per milestone
UPCOMING_KINDS = (
    Milestone.Kind.GO_LIVE,
    Milestone.Kind.HELPDESK_GO_LIVE,
    Milestone.Kind.HANDOVER,
)
LINK_SALT = "liaison.status-link"


# ---------------------------------------------------------------------------- access


@dataclass(frozen=True)
class StatusAccess:
    """The decision for one request: which project, for which audience, and the key to
    carry in its links (empty unless the reader came with a signed link)."""

    project: Project
    audience: str
    link: StatusLink | None = None
    key: str = ""

    @property
    def is_team(self) -> bool:
        return self.audience == TEAM


def status_access(user, slug: str, key: str = "") -> StatusAccess:
    """The status page `user` (or the holder of `key`) may read, or 404."""
    try:
        project = get_status_project_for(user, slug)
    except Http404:
        project = None
    if project is not None:
        return StatusAccess(project, audience_of(user, project))
    if key:
        link = link_for_token(key, slug=slug)
        if link is not None:
            return StatusAccess(link.project, READER, link=link, key=key)
    if user.is_authenticated:
        team = Project.objects.filter(slug=slug).filter(team_filter(user))
        project = team.select_related("owner", "liaison").first()
        if project is not None:
            return StatusAccess(project, TEAM)
    raise Http404("No such status page")


def team_filter(user) -> Q:
    membership = Project.members.through.objects.filter(project_id=OuterRef("pk"), user_id=user.pk)
    return Q(owner=user) | Q(liaison=user) | Exists(membership)


def audience_of(user, project: Project) -> str:
    """The audience class of a user who may read `project`'s page."""
    if not user.is_authenticated:
        return PUBLIC
    if is_staff_role(user) or user.pk in (project.owner_id, project.liaison_id):
        return TEAM
    stakeholder = Project.stakeholders.through.objects.filter(
        project_id=OuterRef("pk"), user_id=user.pk
    )
    member = Project.members.through.objects.filter(project_id=OuterRef("pk"), user_id=user.pk)
    flags = (
        Project.objects.filter(pk=project.pk)
        .values_list(Exists(member), Exists(stakeholder))
        .first()
    )
    is_member, is_stakeholder = flags or (False, False)
    if is_member:
        return TEAM
    return READER if is_stakeholder else PUBLIC


def can_manage_links(user, project: Project) -> bool:
    """Who may hand out and revoke signed links: those who plan the project."""
    from projects.access import can_plan

    return user.is_authenticated and is_staff_role(user) and can_plan(user, project)


# ---------------------------------------------------------------------------- signed links


def _stamp(link: StatusLink) -> str:
    return format(int(link.created_at.timestamp() * 1_000_000), "x")


def link_token(link: StatusLink) -> str:
    """The secret part of a signed link's URL."""
    return signing.Signer(salt=LINK_SALT).sign(f"{link.pk}.{_stamp(link)}")


def link_for_token(token: str, *, slug: str | None = None) -> StatusLink | None:
    """The live link `token` stands for (of the page `slug`), or None: bad signature,
    unknown or revoked link, another project's link, or a page no link may open."""
    try:
        value = signing.Signer(salt=LINK_SALT).unsign(token)
        pk_text, stamp = value.split(".", 1)
        pk = int(pk_text)
    except (signing.BadSignature, ValueError):
        return None
    link = (
        StatusLink.objects.select_related("project", "project__owner", "project__liaison")
        .filter(pk=pk, revoked_at__isnull=True)
        .first()
    )
    if link is None or not secrets.compare_digest(_stamp(link), stamp):
        return None
    if slug is not None and link.project.slug != slug:
        return None
    if link.project.visibility == Project.Visibility.PRIVATE:
        return None  # a private page is for the team only, whatever links exist
    return link


def link_url(link: StatusLink) -> str:
    """The absolute URL to give the link's holder."""
    from django.urls import reverse
    from django.utils.http import urlencode

    path = reverse("liaison:status_page", args=[link.project.slug])
    return f"{settings.SITE_URL}{path}?{urlencode({'key': link_token(link)})}"


@transaction.atomic
def status_link_create(*, project: Project, label: str, actor) -> StatusLink:
    from django.core.exceptions import ValidationError

    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": ["Say who the link is for, e.g. “Finance leads”."]})
    if len(label) > 100:
        raise ValidationError({"label": ["At most 100 characters."]})
    return StatusLink.objects.create(project=project, label=label, created_by=actor)


@transaction.atomic
def status_link_revoke(*, link: StatusLink, actor) -> StatusLink:
    """Shut the link for good; revoking twice keeps the first moment."""
    StatusLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    return link


# ---------------------------------------------------------------------------- the page


@dataclass
class StatusPage:
    """Everything the body of a status page shows, read in a fixed handful of queries."""

    project: Project
    audience: str
    today: date
    milestones: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    known_issue: Bulletin | None = None

    @property
    def latest(self) -> StatusUpdate | None:
        return self.updates[0] if self.updates else None

    @property
    def recent(self) -> list:
        return self.updates[1:]

    @property
    def open_milestones(self) -> list:
        return [m for m in self.milestones if m.completed_at is None]

    @property
    def next_milestone(self) -> Milestone | None:
        return self.open_milestones[0] if self.open_milestones else None

    @property
    def upcoming(self) -> list:
        """Go-lives, help desk go-lives and handovers still to come: the dates when what
        people use, or who supports it, changes."""
        return [m for m in self.open_milestones if m.kind in UPCOMING_KINDS]

    @property
    def done_count(self) -> int:
        return len(self.milestones) - len(self.open_milestones)

    @property
    def show_names(self) -> bool:
        return self.audience != PUBLIC


def status_page_for(project: Project, audience: str) -> StatusPage:
    """Read what the page shows: milestones, their moves, recent updates and the public
    known issue. Four queries whatever the project's size. Never risks, tickets or notes."""
    today = timezone.localdate()
    milestones = list(project.milestones.order_by(expected_date(), "id"))
    slips = MilestoneSlip.objects.filter(milestone__project=project).order_by("-created_at", "-id")
    if audience != PUBLIC:
        slips = slips.select_related("author")
    by_milestone: dict[int, list] = {}
    for slip in slips[:SLIPS_LOADED]:
        by_milestone.setdefault(slip.milestone_id, []).append(slip)
    for milestone in milestones:
        moves = by_milestone.get(milestone.pk, [])
        milestone.moves = moves[:SLIPS_SHOWN]
        milestone.more_moves = max(0, len(moves) - SLIPS_SHOWN)
        milestone.days_away = (milestone.expected_date - today).days
    updates = project.status_updates.all()
    if audience != PUBLIC:
        updates = updates.select_related("author")
    known_issue = (
        Bulletin.objects.filter(project=project, public=True, active=True)
        .exclude(workaround="")
        .order_by("-updated_at", "-id")
        .first()
    )
    return StatusPage(
        project=project,
        audience=audience,
        today=today,
        milestones=milestones,
        updates=list(updates[:RECENT_UPDATES]),
        known_issue=known_issue,
    )


def render_body(project: Project, audience: str) -> str:
    page = status_page_for(project, audience)
    return render_to_string("liaison/status/_body.html", {"page": page, "project": project})


# ---------------------------------------------------------------------------- anonymous readers
#
# Most readers of a public page are anonymous and see exactly the same page, so for them
# the whole page (frame included) is cached, rendered with a placeholder where the CSRF
# token goes; each response gets the visitor's own token put in. Serving it costs one
# query (is the page still public?) and one cache round trip.


def csrf_placeholder() -> str:
    """Where the CSRF token goes in a cached anonymous page: the same in every process,
    and not a string anyone could type into a status update by chance."""
    digest = salted_hmac("liaison.status.csrf", "placeholder").hexdigest()[:24]
    return f"csrf-{digest}"


def public_project_id(slug: str) -> int | None:
    """The id of the project whose page at `slug` is public, else None. What
    get_status_project_for decides for an anonymous visitor, as one plain statement:
    the page every anonymous reader asks for runs nothing else in the database."""
    table = Project._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE slug = %s AND visibility = %s",  # noqa: S608 - our table
            [slug, Project.Visibility.PUBLIC],
        )
        row = cursor.fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------------------- the cache


def _version_key(project_id: int) -> str:
    return f"status:version:{project_id}"


def _entry_key(project_id: int, name: str) -> str:
    return f"status:entry:{project_id}:{name}"


def cached(project_id: int, name: str, build):
    """`build()` as of the project's current cache version: from the cache when an entry
    of this version and day is there (one round trip), else built and stored. The version
    is read before `build()` reads the database, so an entry built from data older than
    a bump is stored under the old version and never served. A cache that is down costs
    speed, never the page."""
    version_key, entry_key = _version_key(project_id), _entry_key(project_id, name)
    today = timezone.localdate().isoformat()
    try:
        found = cache.get_many([version_key, entry_key])
        version = found.get(version_key)
        entry = found.get(entry_key)
        if version is not None and entry is not None and entry[:2] == (version, today):
            return entry[2]
        if version is None:
            cache.add(version_key, secrets.token_hex(8), timeout=None)
            version = cache.get(version_key)
    except Exception:  # any cache failure: serve uncached
        logger.warning("Status page cache unavailable; rendering uncached", exc_info=True)
        return build()
    value = build()
    if version is not None:
        try:
            cache.set(entry_key, (version, today, value), timeout=BODY_SECONDS)
        except Exception:
            logger.warning("Could not store a status page in the cache", exc_info=True)
    return value


def page_body(project: Project, audience: str) -> str:
    """The rendered body of the project's status page for `audience`, cached."""
    return cached(project.pk, f"body:{audience}", partial(render_body, project, audience))


def bump(project_id: int) -> None:
    """Give the project a new cache version: everything cached for it is stale."""
    try:
        cache.set(_version_key(project_id), secrets.token_hex(8), timeout=None)
    except Exception:
        logger.warning("Could not invalidate status page %s", project_id, exc_info=True)


def bump_on_commit(project_id: int | None) -> None:
    """Invalidate once the change is committed, so no request can cache the old data
    under the new version (outside a transaction: at once)."""
    if project_id is not None:
        transaction.on_commit(partial(bump, project_id), robust=True)


# ---------------------------------------------------------------------------- receivers


@receiver(project_event_recorded, dispatch_uid="liaison.status.plan_changed")
def plan_changed(sender, event, **kwargs):
    """Every plan change (moves, forecasts, completions, status updates, project edits);
    sent on commit, so it also covers writes made with update() or bulk_update()."""
    bump(event.project_id)


@receiver(event_applied, dispatch_uid="liaison.status.event_applied")
def help_desk_changed(sender, event, **kwargs):
    """The bridge applied an event: bulletins (the known issue) may have changed."""
    bump(event.project_id)


def _project_id(sender, instance) -> int | None:
    if sender is Project:
        return instance.pk
    if sender is MilestoneSlip:
        milestone = MilestoneSlip.milestone.field.get_cached_value(instance, None)
        if milestone is not None:
            return milestone.project_id
        return (
            Milestone.objects.filter(pk=instance.milestone_id)
            .values_list("project_id", flat=True)
            .first()
        )
    return instance.project_id


def _shown_changed(sender, instance, **kwargs):
    bump_on_commit(_project_id(sender, instance))


@receiver(m2m_changed, sender=Queue.projects.through, dispatch_uid="liaison.status.queues")
def queues_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """The queues a project affects decide where its bulletins (the known issue) live;
    rewriting them without a desk or plan change must still refresh the page."""
    if not action.startswith("post_") and action != "pre_clear":
        return
    if isinstance(instance, Project):
        if action != "pre_clear":
            bump_on_commit(instance.pk)
        return
    if action == "pre_clear":
        pk_set = set(instance.projects.values_list("pk", flat=True))
    for project_id in pk_set or ():
        bump_on_commit(project_id)


# What the page shows, saved or deleted one row at a time (admin, services, fixtures).
for _model in (Project, Milestone, MilestoneSlip, StatusUpdate, Bulletin, ProjectDesk, StatusLink):
    post_save.connect(_shown_changed, sender=_model, dispatch_uid=f"status.save.{_model.__name__}")
    post_delete.connect(
        _shown_changed, sender=_model, dispatch_uid=f"status.delete.{_model.__name__}"
    )
