"""What the agent sees of the bridge: bulletins on the triage page, the answer card and
link suggestions on the ticket page, questions to the project team, and the signed token
that turns an inserted answer into a recorded promise.

Every read here runs a fixed number of queries whatever the number of bulletins, slips,
projects or questions, so the pages that use it keep their pinned query counts.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from helpdesk.models import Queue, Ticket
from liaison.briefing import Briefing, briefing_for, human_date
from liaison.models import Bulletin, HandoverPlan, Question
from projects.models import Milestone, Project

# ---------------------------------------------------------------------------- bulletins


def bulletins_for(user, queue_slug: str = "") -> list[Bulletin]:
    """The active bulletins of the queues `user` works (every queue for a superuser),
    narrowed to one queue by `queue_slug`; one per project (a project affecting several
    of the agent's queues is one banner, its newest bulletin), newest first. One query."""
    queues = Queue.objects.visible_to(user)
    if queue_slug:
        queues = queues.filter(slug=queue_slug)
    rows = (
        Bulletin.objects.filter(active=True, queue__in=queues.values("pk"))
        .select_related("project")
        .order_by("project_id", "-updated_at", "-id")
        .distinct("project_id")
    )
    return sorted(rows, key=lambda bulletin: (bulletin.updated_at, bulletin.pk), reverse=True)


def bulletins_fingerprint(bulletins: list[Bulletin]) -> str:
    """A short digest of what the banners show: the polling client sends it back, and an
    unchanged list is answered 204 (nothing swapped, an opened "tell callers" stays open)."""
    digest = hashlib.sha256()
    for bulletin in bulletins:
        digest.update(
            f"{bulletin.pk}:{bulletin.sequence}:{bulletin.updated_at.isoformat()};".encode()
        )
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------- promises

PROMISE_SALT = "liaison.promise"
# A reply drafted from the card may be sent a while later (a page left open over a
# weekend), but not weeks later: the plan has moved on by then.
PROMISE_MAX_AGE = timedelta(days=4)


@dataclass(frozen=True)
class PromiseClaim:
    """What a signed promise token says: this ticket's caller is told this milestone's date."""

    ticket_id: int
    milestone_id: int
    promised_date: date


def promise_token(ticket: Ticket, milestone: Milestone, promised: date) -> str:
    """The signed value the answer card puts in the reply form: nobody can change the
    ticket, milestone or date in it without the server noticing."""
    payload = {"t": ticket.pk, "m": milestone.pk, "d": promised.isoformat()}
    return signing.dumps(payload, salt=PROMISE_SALT, compress=False)


def promise_claim(token: str, ticket: Ticket) -> PromiseClaim | None:
    """The promise in `token` if its signature holds, it is recent and it was made for
    this ticket; None otherwise (a forged, tampered, stale or transplanted token)."""
    if not token or len(token) > 500:
        return None
    try:
        payload = signing.loads(token, salt=PROMISE_SALT, max_age=PROMISE_MAX_AGE)
        claim = PromiseClaim(int(payload["t"]), int(payload["m"]), date.fromisoformat(payload["d"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return claim if claim.ticket_id == ticket.pk else None


# ---------------------------------------------------------------------------- answer card


class AskForm(forms.Form):
    """An agent's question to the project team, raised from a ticket."""

    text = forms.CharField(
        label="Question",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What do you need to know?"}),
    )
    due_at = forms.DateTimeField(
        label="Answer needed by",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, prefix="ask", **kwargs):
        super().__init__(*args, prefix=prefix, **kwargs)


def default_due_at(now: datetime) -> datetime:
    """Next business day, same time: a day later, moved past a weekend."""
    due = timezone.localtime(now) + timedelta(days=1)
    while due.weekday() >= 5:  # Saturday, Sunday
        due += timedelta(days=1)
    return due.replace(second=0, microsecond=0)


@dataclass
class AnswerCard:
    """Everything the ticket page's answer card shows for the ticket's project."""

    ticket: Ticket
    briefing: Briefing
    hypercare_until: date | None
    questions: list[Question] = field(default_factory=list)
    answer: str = ""
    promise_token: str = ""
    promised_date: date | None = None

    @property
    def project(self) -> Project:
        return self.briefing.project

    @property
    def milestone(self) -> Milestone | None:
        return self.briefing.milestone


def questions_of(ticket: Ticket, now: datetime | None = None) -> list[Question]:
    """The questions raised from this ticket to its project's team: open ones first
    (soonest due first, each with `overdue`), then the answered ones. One query."""
    now = now or timezone.now()
    questions = list(
        Question.objects.filter(ticket=ticket, project_id=ticket.project_id)
        .select_related("asked_by", "answered_by")
        .order_by(F("answered_at").desc(nulls_first=True), "due_at", "id")
    )
    for question in questions:
        question.overdue = question.answered_at is None and question.due_at < now
    return questions


def answer_text(briefing: Briefing) -> str:
    """What "Insert answer" puts in the reply: what to tell callers, and what they can do
    meanwhile when the liaison wrote a workaround."""
    text = briefing.tell_callers.strip()
    if briefing.workaround.strip():
        text += f"\n\nMeanwhile: {briefing.workaround.strip()}"
    return text


def answer_card(ticket: Ticket, today: date | None = None) -> AnswerCard | None:
    """The answer card of a ticket linked to a project (its own milestone preferred),
    or None. Five queries: milestones, desk, slips, handover plan, questions."""
    project = ticket.project
    if project is None:
        return None
    today = today or timezone.localdate()
    briefing = briefing_for(project, milestone_id=ticket.milestone_id)
    plan = HandoverPlan.objects.filter(project=project).only("hypercare_until").first()
    questions = questions_of(ticket)
    card = AnswerCard(
        ticket=ticket,
        briefing=briefing,
        hypercare_until=plan.hypercare_until if plan and plan.in_hypercare(today) else None,
        questions=questions,
        answer=answer_text(briefing),
    )
    if briefing.milestone is not None and briefing.forecast_date is not None:
        card.promised_date = briefing.forecast_date
        card.promise_token = promise_token(ticket, briefing.milestone, briefing.forecast_date)
    return card


@transaction.atomic
def question_ask(*, ticket: Ticket, asked_by, text: str, due_at: datetime) -> Question:
    """Ask the ticket's project team a question, to be answered by `due_at`."""
    if ticket.project_id is None:
        raise ValidationError("Link the ticket to a project before asking its team.")
    text = text.strip()
    if not text:
        raise ValidationError({"text": ["Write the question."]})
    if due_at <= timezone.now():
        raise ValidationError({"due_at": ["Choose a time in the future."]})
    return Question.objects.create(
        ticket=ticket, project_id=ticket.project_id, asked_by=asked_by, text=text, due_at=due_at
    )


# ---------------------------------------------------------------------------- link suggestions

SUGGESTIONS_SHOWN = 3

# Each active project's key, name and keywords become one OR query: a phrase matches
# when all its words are in the ticket (so "Office move" does not match every ticket that
# mentions an office), any phrase suffices. Phrases of only stop words are left out. The
# key also matches as an exact word of the subject ("VPN down"), even where full-text
# would drop it as a stop word ("IT").
#
# Compiling those queries (a plainto_tsquery per phrase) costs some 50 µs a project, which
# at hundreds of projects would be most of a ticket page; so they are compiled once, kept
# in the cache, and recompiled when a project is saved (its name or keywords may change).
_COMPILE_SQL = """
SELECT p.id, (
    SELECT string_agg('(' || q::text || ')', ' | ')
    FROM (
        SELECT plainto_tsquery(%s::regconfig, phrase) AS q
        FROM unnest(
            ARRAY[p.key, p.name] || regexp_split_to_array(p.keywords, '[,;\\n]')
        ) AS phrase
    ) phrases
    WHERE numnode(q) > 0
)
FROM projects_project p
WHERE p.id IN ({candidates})
"""
_MATCH_SQL = """
SELECT p.*, (p.key = ANY(%(subject_words)s::text[])) AS key_in_subject,
       coalesce(ts_rank(t.search_vector, m.q), 0) AS rank
FROM helpdesk_ticket t
CROSS JOIN unnest(%(ids)s::int[], %(queries)s::tsquery[]) AS m(id, q)
JOIN projects_project p ON p.id = m.id
WHERE t.id = %(ticket)s
  AND p.archived_at IS NULL AND p.status NOT IN ('done', 'cancelled')
  AND (t.search_vector @@ m.q OR p.key = ANY(%(subject_words)s::text[]))
ORDER BY key_in_subject DESC, rank DESC, p.name, p.id
LIMIT %(limit)s
"""
# The subject's words, as the key must match one exactly: a key is capitals and digits,
# so a whole word of the subject is a maximal run of word characters. (A regular
# expression per project, `subject ~ '\mKEY\M'`, was three quarters of the query.)
_WORD = re.compile(r"\w+")
_QUERIES_KEY = "liaison:suggest:project-queries"


def _project_queries() -> tuple[list[int], list[str | None]]:
    """(ids, tsqueries as text) of the active projects, from the cache when it has them."""
    key = f"{_QUERIES_KEY}:{settings.SEARCH_CONFIG}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    candidates, candidate_params = (
        Project.objects.active()
        .filter(archived_at__isnull=True)
        .order_by()
        .values("pk")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPILE_SQL.format(candidates=candidates),
            [settings.SEARCH_CONFIG, *candidate_params],
        )
        rows = cursor.fetchall()
    compiled = ([pk for pk, _ in rows], [query for _, query in rows])
    cache.set(key, compiled, timeout=3600)
    return compiled


@receiver([post_save, post_delete], sender=Project, dispatch_uid="liaison.suggest_recompile")
def _recompile_on_project_change(sender, **kwargs):
    cache.delete(f"{_QUERIES_KEY}:{settings.SEARCH_CONFIG}")


def suggested_projects(ticket: Ticket) -> list[Project]:
    """Active, unarchived projects whose key, name or keywords the ticket's text mentions,
    best match first; [] for a ticket already linked, closed or merged. One query (two
    when the compiled project queries are not cached)."""
    if ticket.project_id is not None or not ticket.is_open or ticket.merged_into_id:
        return []
    ids, queries = _project_queries()
    if not ids:
        return []
    params = {
        "subject_words": sorted(set(_WORD.findall(ticket.subject))),
        "ids": ids,
        "queries": queries,
        "ticket": ticket.pk,
        "limit": SUGGESTIONS_SHOWN,
    }
    return list(Project.objects.raw(_MATCH_SQL, params))


def linkable_project(user, project_id) -> Project | None:
    """The project `user` may link a ticket to from a suggestion: visible, active, not
    archived."""
    if not str(project_id).isdigit():
        return None
    return (
        Project.objects.visible_to(user)
        .active()
        .filter(archived_at__isnull=True, pk=int(project_id))
        .first()
    )


def describe_promise(card: AnswerCard) -> str:
    """ "Go-live by Fri 4 Dec 2026": the promise an inserted answer records."""
    if not card.promise_token:
        return ""
    return f"{card.milestone.name} by {human_date(card.promised_date)}"
