"""The one door to project objects."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from config.roles import is_project_manager, is_staff_role
from projects.models import Project


def get_project_for(user, key: str, *, write: bool = False) -> Project:
    """The project with `key` if `user` may read it (404 otherwise); with `write`, 403
    unless they own it, are on its team, or manage projects."""
    project = (
        Project.objects.visible_to(user).select_related("owner", "liaison").filter(key=key).first()
    )
    if project is None:
        raise Http404("No such project")
    if write and not can_plan(user, project):
        raise PermissionDenied("You may read this project but not change it.")
    return project


def can_plan(user, project: Project) -> bool:
    """Owner, team members and project managers plan; everyone else only reads."""
    return (
        project.owner_id == user.pk
        or is_project_manager(user)
        or project.members.filter(pk=user.pk).exists()
    )


def get_project_page_for(user, key: str, *, write: bool = False, refusal: str = "") -> Project:
    """The door of the project's working pages (home, board, timeline, …): 404 when the
    user may not see the project, 403 when they are not staff — stakeholders read its
    status page instead — and, with `write`, 403 unless they may plan it."""
    project = get_project_for(user, key)
    if not is_staff_role(user):
        raise PermissionDenied(
            (refusal or "Projects are for agents and project managers.")
            + " The project's status page is open to you."
        )
    if write and not can_plan(user, project):
        raise PermissionDenied("You may read this project but not change it.")
    return project
