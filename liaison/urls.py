from django.urls import path

from liaison.views import desk, handover, inbox, status, subscribe

app_name = "liaison"

urlpatterns = [
    path("status/", status.status_index, name="status_index"),
    path("status/<slug:slug>/", status.status_page, name="status_page"),
    path("status/<slug:slug>/feed.atom", status.status_feed, name="status_feed"),
    path("status/<slug:slug>/milestones.ics", status.status_calendar, name="status_calendar"),
    path("projects/<str:key>/status-links/", status.status_links, name="status_links"),
    path(
        "projects/<str:key>/status-links/<int:pk>/revoke/",
        status.status_link_revoke,
        name="status_link_revoke",
    ),
    *desk.urlpatterns,
    *inbox.urlpatterns,
    *handover.urlpatterns,
    *subscribe.urlpatterns,
]
