"""The one door to project objects."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from config.roles import is_project_manager
from projects.models import Project


def get_project_for(user, key: str, *, write: bool = False) -> Project:
    """The project with `key` if `user` may read it (404 otherwise); with `write`, 403
    unless they own it or manage projects."""
    project = (
        Project.objects.visible_to(user).select_related("owner", "liaison").filter(key=key).first()
    )
    if project is None:
        raise Http404("No such project")
    if write and not (project.owner_id == user.pk or is_project_manager(user)):
        raise PermissionDenied("You may read this project but not change it.")
    return project
