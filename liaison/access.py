"""The doors of the liaison app: status pages (visibility decides who may read a
project's page) and the help desk side of a project (who may read, edit and answer)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from config.roles import is_agent, is_project_manager
from projects.access import get_project_page_for
from projects.models import Project


def get_status_project_for(user, slug: str) -> Project:
    """The project whose status page `user` may read (public pages for anyone), or 404."""
    project = (
        Project.objects.visible_to(user)
        .select_related("owner", "liaison")
        .filter(slug=slug)
        .first()
    )
    if project is None:
        raise Http404("No such status page")
    return project


# --- The help desk side of a project (/projects/<key>/helpdesk/) --------------------
#
# Who may do what there: agents and project managers read (get_project_page_for: 404 when
# the project is not visible, 403 for stakeholders); the owner, planners and the liaison
# edit what agents see; the project team (owner, members, liaison) answers questions;
# the liaison, or an agent who may edit, sends callers an update on broken promises.


@dataclass(frozen=True)
class DeskRights:
    """What one user may do on one project's help desk page, worked out once."""

    can_plan: bool  # projects.access.can_plan: the project's own pages' edit rights
    can_edit: bool  # liaison, affected queues, keywords, what to tell callers
    can_answer: bool  # answer the help desk's questions to the project team
    can_update_callers: bool  # send the "the date has moved" update to promised callers


def desk_rights(user, project: Project) -> DeskRights:
    """The user's rights on the project's help desk side; one query at most (team
    membership), none for the owner, the liaison or a project manager."""
    is_owner = project.owner_id == user.pk
    is_liaison = project.liaison_id is not None and project.liaison_id == user.pk
    pm = is_project_manager(user)
    member = False
    if not is_owner and not is_liaison:
        member = project.members.filter(pk=user.pk).exists()
    planner = is_owner or pm or member
    editor = planner or is_liaison
    return DeskRights(
        can_plan=planner,
        can_edit=editor,
        can_answer=is_owner or is_liaison or member,
        can_update_callers=is_liaison or (editor and is_agent(user)),
    )


def get_desk_project_for(user, key: str, *, need: str = "") -> tuple[Project, DeskRights]:
    """The project of a help desk page and the user's rights on it: 404 when they may
    not see it, 403 for stakeholders (they read the status page) and, with `need`
    ("can_edit", "can_answer", "can_update_callers"), 403 without that right."""
    project = get_project_page_for(
        user, key, refusal="The help desk side of a project is for agents and project managers."
    )
    rights = desk_rights(user, project)
    if need and not getattr(rights, need):
        raise PermissionDenied(REFUSALS[need])
    return project, rights


REFUSALS = {
    "can_edit": "Only the project's liaison, owner, team and project managers change what "
    "the help desk is told.",
    "can_answer": "Only the project team (owner, members and liaison) answers questions.",
    "can_update_callers": "Only the project's liaison or an agent on the project sends "
    "callers an update.",
}
