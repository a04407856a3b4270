from django.db.models import Prefetch
from django.db.models.functions import Coalesce
from django.shortcuts import render

from config.decorators import role_required
from config.roles import is_staff_role
from projects.access import get_project_for
from projects.models import Milestone, Project

staff_only = role_required(is_staff_role, "Projects are for agents and project managers.")


def open_milestones():
    """Prefetch each project's unfinished milestones as `open_milestones`, soonest
    expected first, so `open_milestones.0` is the next one callers ask about."""
    return Prefetch(
        "milestones",
        queryset=Milestone.objects.filter(completed_at__isnull=True).order_by(
            Coalesce("forecast_date", "target_date"), "id"
        ),
        to_attr="open_milestones",
    )


@staff_only
def project_list(request):
    projects = (
        Project.objects.visible_to(request.user)
        .select_related("owner", "liaison")
        .prefetch_related(open_milestones())
    )
    return render(request, "projects/project_list.html", {"projects": projects})


@staff_only
def project_detail(request, key):
    project = get_project_for(request.user, key)
    milestones = project.milestones.all()
    return render(
        request, "projects/project_detail.html", {"project": project, "milestones": milestones}
    )
