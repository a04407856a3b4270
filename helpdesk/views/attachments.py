"""Attachment downloads. Files live under MEDIA_ROOT, outside the web root, and leave only
through here, after the same access check as their ticket:

- `/attachments/<id>/` for agents, through `get_ticket_for` (404 outside their queues);
- `/t/<secret>/attachments/<id>/` for the caller, only files of the ticket's public events.

Always as a download (`Content-Disposition: attachment`), with the type detected from the
content when it was stored and `nosniff`, so no browser ever renders one as a page.
"""

from urllib.parse import quote

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from config.decorators import role_required
from config.roles import is_agent
from helpdesk.access import get_ticket_by_secret, get_ticket_for
from helpdesk.attachments import clean_filename
from helpdesk.models import Attachment


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 form."""
    name = clean_filename(filename)
    fallback = "".join(ch if ch.isascii() and ch not in '"\\;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _download(attachment: Attachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("This file is no longer stored.") from None
    response = FileResponse(handle, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition(attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Should anything still try to display it: no scripts, no plugins, no same origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Referrer-Policy"] = "no-referrer"
    return response


@role_required(is_agent, "Attachments are for help desk agents.")
def agent_attachment(request, pk):
    """An agent downloads a file of a ticket in one of their queues."""
    attachment = get_object_or_404(Attachment, pk=pk)
    # 404 for a ticket the agent may not see: the file's existence stays secret.
    get_ticket_for(request.user, attachment.ticket_id)
    return _download(attachment)


def requester_attachment(request, secret, pk):
    """The caller downloads a file of a public entry of their own ticket."""
    ticket = get_ticket_by_secret(secret)
    attachment = get_object_or_404(Attachment, pk=pk, ticket=ticket, event__public=True)
    return _download(attachment)
