from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from liaison.access import get_status_project_for
from projects.models import Project
from projects.selectors import open_milestones


@login_required
def status_index(request):
    """The status pages this user may read: the stakeholder's home page."""
    projects = (
        Project.objects.visible_to(request.user)
        .exclude(visibility=Project.Visibility.PRIVATE)
        .prefetch_related(open_milestones())
    )
    return render(request, "liaison/status_index.html", {"projects": projects})


def status_page(request, slug):
    project = get_status_project_for(request.user, slug)
    milestones = project.milestones.all()
    return render(
        request, "liaison/status_page.html", {"project": project, "milestones": milestones}
    )
