"""Every write to the help desk that matters: atomic, audited, side effects on commit."""

from django.db import connection, transaction

from helpdesk.models import Contact, Queue, Ticket, TicketEvent


def contact_get_or_create(*, email: str, name: str = "") -> Contact:
    """The contact for `email`, created on first sight; fills in a name we did not know."""
    contact, created = Contact.objects.get_or_create(
        email=email.strip().lower(), defaults={"name": name}
    )
    if not created and name and not contact.name:
        contact.name = name
        contact.save(update_fields=["name"])
    return contact


def _take_ticket_number(queue: Queue) -> int:
    """Reserve the queue's next number in one statement; the row lock it takes makes
    concurrent callers wait for each other, so numbers never repeat."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Queue._meta.db_table} SET next_number = next_number + 1 "  # noqa: S608
            "WHERE id = %s RETURNING next_number - 1",
            [queue.pk],
        )
        return cursor.fetchone()[0]


@transaction.atomic
def ticket_create(
    *,
    queue: Queue,
    subject: str,
    requester_email: str,
    requester_name: str = "",
    description: str = "",
    source: str = Ticket.Source.WEB,
    priority: str = Ticket.Priority.P3,
    type: str = Ticket.Type.INCIDENT,
    actor=None,
    acknowledge: bool = True,
) -> Ticket:
    """Open a ticket for a caller and, once committed, send them the acknowledgement."""
    requester = contact_get_or_create(email=requester_email, name=requester_name)
    ticket = Ticket.objects.create(
        queue=queue,
        number=_take_ticket_number(queue),
        subject=subject.strip(),
        description=description,
        requester=requester,
        source=source,
        priority=priority,
        type=type,
    )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.CREATED,
        public=True,
        author=actor,
        author_contact=None if actor else requester,
        body=description,
    )
    if acknowledge:
        from helpdesk.tasks import send_ticket_acknowledgement

        transaction.on_commit(lambda: send_ticket_acknowledgement.delay(ticket.pk))
    return ticket
