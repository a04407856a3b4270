from django.urls import path

from projects.views import board, pages, timeline

app_name = "projects"

# Fixed words (workload, new) come before projects/<key>/, which would otherwise take them.
urlpatterns = [
    path("projects/", pages.project_list, name="list"),
    path("projects/new/", pages.project_create, name="create"),
    path("projects/workload/", pages.workload, name="workload"),
    path("projects/<str:key>/", pages.project_detail, name="detail"),
    path("projects/<str:key>/edit/", pages.project_edit, name="edit"),
    path("projects/<str:key>/archive/", pages.project_archive, name="archive"),
    path("projects/<str:key>/milestones/", pages.milestones, name="milestones"),
    path(
        "projects/<str:key>/milestones/<int:pk>/reschedule/",
        pages.milestone_reschedule,
        name="milestone_reschedule",
    ),
    path(
        "projects/<str:key>/milestones/<int:pk>/complete/",
        pages.milestone_complete,
        name="milestone_complete",
    ),
    path("projects/<str:key>/risks/", pages.risks, name="risks"),
    path("projects/<str:key>/risks/<int:pk>/edit/", pages.risk_edit, name="risk_edit"),
    path("projects/<str:key>/risks/<int:pk>/close/", pages.risk_close, name="risk_close"),
    path("projects/<str:key>/updates/", pages.status_updates, name="updates"),
    path("projects/<str:key>/review/", pages.review, name="review"),
    path("projects/<str:key>/timeline/", timeline.project_timeline, name="timeline"),
    path("projects/<str:key>/board/", board.board, name="board"),
    path(
        "projects/<str:key>/board/columns/<int:column_id>/tasks/",
        board.quick_add,
        name="board_quick_add",
    ),
    path("projects/<str:key>/board/tasks/<int:pk>/", board.task_panel, name="board_task"),
    path("projects/<str:key>/board/tasks/<int:pk>/move/", board.task_move, name="board_move"),
    path(
        "projects/<str:key>/board/tasks/<int:pk>/dependencies/",
        board.dependency_add,
        name="board_dependency_add",
    ),
    path(
        "projects/<str:key>/board/tasks/<int:pk>/dependencies/<int:dependency_pk>/delete/",
        board.dependency_remove,
        name="board_dependency_remove",
    ),
]
