from django.shortcuts import render

from config.decorators import role_required
from config.roles import is_agent
from helpdesk.access import get_ticket_by_secret, get_ticket_for
from helpdesk.models import Queue, Ticket

PAGE_SIZE = 50

agents_only = role_required(is_agent, "The ticket views are for help desk agents.")


@agents_only
def triage(request):
    """The agents' list of tickets, newest first, a page at a time by keyset."""
    tickets = Ticket.objects.visible_to(request.user).with_list_columns()
    queue_slug = request.GET.get("queue", "")
    if queue_slug:
        tickets = tickets.filter(queue__slug=queue_slug)
    status = request.GET.get("status", "active")
    if status == "active":  # every status that still needs work
        tickets = tickets.open()
    elif status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    assignee = request.GET.get("assignee", "")
    if assignee == "me":
        tickets = tickets.filter(assignee=request.user)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    after = request.GET.get("after", "")
    if after.isdigit():
        tickets = tickets.filter(pk__lt=int(after))
    page = list(tickets.order_by("-pk")[: PAGE_SIZE + 1])
    has_more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    queues = Queue.objects.visible_to(request.user).with_open_counts()
    next_params = request.GET.copy()
    if has_more:
        next_params["after"] = page[-1].pk
    return render(
        request,
        "helpdesk/triage.html",
        {
            "tickets": page,
            "queues": queues,
            "current_queue": queue_slug,
            "current_status": status,
            "current_assignee": assignee,
            "statuses": Ticket.Status.choices,
            "next_query": next_params.urlencode() if has_more else "",
        },
    )


@agents_only
def ticket_detail(request, pk):
    ticket = get_ticket_for(request.user, pk)
    events = ticket.events.select_related("author", "author_contact")
    return render(request, "helpdesk/ticket_detail.html", {"ticket": ticket, "events": events})


def requester_ticket(request, secret):
    """The caller's view through their secret link: public timeline entries only."""
    ticket = get_ticket_by_secret(secret)
    events = ticket.events.filter(public=True).select_related("author", "author_contact")
    response = render(
        request, "helpdesk/requester_ticket.html", {"ticket": ticket, "events": events}
    )
    # The URL is the credential: keep it out of Referer headers and shared caches.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
