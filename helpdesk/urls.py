from django.urls import path

from helpdesk.views import agent, attachments, public

app_name = "helpdesk"

urlpatterns = [
    path("tickets/", agent.triage_list, name="triage"),
    path("tickets/new/", agent.ticket_new, name="ticket_new"),
    path("tickets/next/", agent.take_next, name="take_next"),
    path("tickets/bulk/", agent.triage_bulk, name="bulk"),
    path("tickets/views/", agent.saved_view_create, name="saved_view_create"),
    path("tickets/views/<int:pk>/delete/", agent.saved_view_delete, name="saved_view_delete"),
    path("tickets/<int:pk>/", agent.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/reply/", agent.ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/edit/", agent.ticket_edit, name="ticket_edit"),
    path("tickets/<int:pk>/assign-me/", agent.ticket_assign_me, name="ticket_assign_me"),
    path("tickets/<int:pk>/snooze/", agent.ticket_snooze, name="ticket_snooze"),
    path("tickets/<int:pk>/merge/", agent.ticket_merge, name="ticket_merge"),
    path("tickets/<int:pk>/link/", agent.ticket_link, name="ticket_link"),
    path("tickets/<int:pk>/call/", agent.ticket_call, name="ticket_call"),
    path("tickets/<int:pk>/presence/", agent.ticket_presence, name="ticket_presence"),
    path("attachments/<int:pk>/", attachments.agent_attachment, name="attachment"),
    # Callers, without an account: the public form and the secret requester link.
    path("submit/<slug:slug>/", public.submit_ticket, name="submit"),
    path("submit/<slug:slug>/thanks/<str:token>/", public.submitted, name="submitted"),
    path("t/<str:secret>/", public.requester_ticket, name="requester_ticket"),
    path("t/<str:secret>/reply/", public.requester_reply, name="requester_reply"),
    path("t/<str:secret>/rating/", public.requester_rating, name="requester_rating"),
    path(
        "t/<str:secret>/attachments/<int:pk>/",
        attachments.requester_attachment,
        name="requester_attachment",
    ),
]
