from django.urls import path

from helpdesk import views

app_name = "helpdesk"

urlpatterns = [
    path("tickets/", views.triage, name="triage"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket"),
    path("t/<str:secret>/", views.requester_ticket, name="requester_ticket"),
]
