"""Questions agents raise from tickets to a project team ("ask the project"), and the
team's answers, which flow back to the ticket as an internal note.

Reads are one query each, whatever the number of questions; the answer is one atomic
write that stores it on the question and notes it on the ticket, once.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Window
from django.utils import timezone

from liaison.models import Question

# Open questions shown on a page (the count covers them all); answered ones kept in view.
OPEN_SHOWN = 50
ANSWERED_SHOWN = 10
ANSWER_MAX_LENGTH = 10_000


def _listed(questions: QuerySet) -> QuerySet:
    return questions.select_related("ticket__queue", "project", "asked_by", "answered_by")


def open_questions(questions: QuerySet, limit: int = OPEN_SHOWN) -> tuple[list[Question], int]:
    """The first `limit` unanswered questions of `questions`, soonest due first (so the
    overdue ones lead), each marked `overdue`, and how many are open in all: one query."""
    now = timezone.now()
    rows = list(
        _listed(questions.filter(answered_at__isnull=True))
        .annotate(total=Window(Count("id")))
        .order_by("due_at", "id")[:limit]
    )
    for question in rows:
        question.overdue = question.due_at < now
    return rows, (rows[0].total if rows else 0)


def recently_answered(questions: QuerySet, limit: int = ANSWERED_SHOWN) -> list[Question]:
    return list(
        _listed(questions.filter(answered_at__isnull=False)).order_by("-answered_at", "-id")[:limit]
    )


def overdue_q(now=None) -> Q:
    return Q(answered_at__isnull=True, due_at__lt=now or timezone.now())


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "someone"


def note_text(question: Question, answerer, answer: str) -> str:
    """The internal note the ticket gets: who answered, the question quoted, the answer."""
    quoted = "\n".join(f"> {line}" for line in question.text.strip().splitlines())
    return (
        f"Answer from the {question.project.key} project team ({_person(answerer)}):\n\n"
        f"{quoted}\n\n{answer}"
    )


@transaction.atomic
def question_answer(*, question: Question, answerer, answer: str) -> Question:
    """Store the answer on the question and add it to the ticket as an internal note
    (never shown to the caller). A question is answered once: a second answer, or a
    double submit, raises ValidationError naming who answered first."""
    from helpdesk.services import ticket_reply

    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": ["Write an answer before sending it."]})
    if len(answer) > ANSWER_MAX_LENGTH:
        raise ValidationError(
            {"answer": [f"Keep the answer under {ANSWER_MAX_LENGTH:,} characters."]}
        )
    now = timezone.now()
    claimed = Question.objects.filter(pk=question.pk, answered_at__isnull=True).update(
        answer=answer, answered_by=answerer, answered_at=now
    )
    if not claimed:
        current = Question.objects.select_related("answered_by").get(pk=question.pk)
        raise ValidationError(
            {
                "answer": [
                    f"{_person(current.answered_by)} answered this question "
                    f"{timezone.localtime(current.answered_at):%-d %b at %H:%M}."
                ]
            }
        )
    current = Question.objects.select_related("ticket", "project").get(pk=question.pk)
    ticket_reply(
        ticket=current.ticket,
        author=answerer,
        body=note_text(current, answerer, answer),
        public=False,
    )
    return current
