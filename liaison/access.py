"""The door to status pages: visibility decides who may read a project's page."""

from django.http import Http404

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
