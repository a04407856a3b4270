"""Writes of the bridge's own records that more than one page or task needs."""

from django.db import transaction

from helpdesk.models import Queue
from liaison.models import ProjectDesk
from liaison.publish import bulletins_refresh
from projects.models import Project
from projects.services import project_update


@transaction.atomic
def desk_update(
    *,
    project: Project,
    actor,
    liaison,
    queue_ids: list[int],
    keywords: str,
    tell_callers: str,
    workaround: str,
    workaround_public: bool,
) -> Project:
    """Save what the help desk is told about the project (liaison and keywords through
    projects.services, the affected queues, ProjectDesk's texts) and rewrite its
    bulletins at once. Takes the desk's row lock first, as the publisher does, so a
    plan change being published meanwhile is applied before or after, never half-way."""
    ProjectDesk.objects.bulk_create([ProjectDesk(project=project)], ignore_conflicts=True)
    desk = ProjectDesk.objects.select_for_update().get(project=project)
    project = project_update(project=project, actor=actor, keywords=keywords, liaison=liaison)
    wanted = set(queue_ids)
    if set(project.queues.values_list("pk", flat=True)) != wanted:
        project.queues.set(Queue.objects.filter(pk__in=wanted))
    texts = {
        "tell_callers": tell_callers.strip(),
        "workaround": workaround.strip(),
        "workaround_public": workaround_public,
    }
    changed = [name for name, value in texts.items() if getattr(desk, name) != value]
    if changed:
        for name in changed:
            setattr(desk, name, texts[name])
        desk.save(update_fields=[*changed, "updated_at"])
    bulletins_refresh(project)
    return project
