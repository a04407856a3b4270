"""Who may open the callers' pages and download attachments, and how files leave."""

from urllib.parse import quote

import pytest

from helpdesk.attachments import attachment_create
from helpdesk.models import Ticket
from helpdesk.views.attachments import content_disposition
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cast(agent, outsider, pm, stakeholder, admin):
    return {
        "agent": agent,
        "outsider": outsider,
        "pm": pm,
        "stakeholder": stakeholder,
        "admin": admin,
        "anonymous": None,
    }


@pytest.fixture
def reply(ticket, agent):
    return factories.TicketEventFactory(ticket=ticket, kind="reply", public=True, author=agent)


@pytest.fixture
def note(ticket, agent):
    return factories.TicketEventFactory(ticket=ticket, kind="note", public=False, author=agent)


@pytest.fixture
def public_file(ticket, reply):
    return attachment_create(ticket=ticket, event=reply, filename="Bericht März.pdf", content=PDF)


@pytest.fixture
def internal_file(ticket, note):
    return attachment_create(ticket=ticket, event=note, filename="internal.pdf", content=PDF)


def status_of(client_for, user, url):
    response = client_for(user).get(url)
    if response.status_code == 302:
        return "login" if response["Location"].startswith(LOGIN) else response["Location"]
    return response.status_code


# --- Agents' download: /attachments/<id>/ ----------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", 200),
        ("admin", 200),
        ("outsider", 404),  # another queue's file: its existence stays secret
        ("pm", 403),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
@pytest.mark.parametrize("which", ["public_file", "internal_file"])
def test_agent_attachment_download(client_for, cast, request, which, who, expected):
    attachment = request.getfixturevalue(which)
    assert status_of(client_for, cast[who], f"/attachments/{attachment.pk}/") == expected


def test_unknown_attachment_is_404_like_a_hidden_one(client_for, outsider, agent, public_file):
    assert client_for(agent).get(f"/attachments/{public_file.pk + 1000}/").status_code == 404


def test_download_is_always_an_attachment_with_its_stored_type(client_for, agent, public_file):
    response = client_for(agent).get(f"/attachments/{public_file.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Bericht M_rz.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == str(len(PDF))


@pytest.mark.parametrize(
    "hostile",
    [
        'evil".html',
        "a;b\r\nX-Injected: 1.txt",
        "../../etc/passwd",
        "report\x00.exe.pdf",
        "dir\\file.pdf",
    ],
)
def test_filenames_cannot_break_out_of_the_header(hostile):
    header = content_disposition(hostile)
    assert header.startswith('attachment; filename="')
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert "/" not in fallback and "\\" not in fallback and ";" not in fallback
    assert header.endswith("filename*=UTF-8''" + header.rsplit("''", 1)[1])
    assert all(ch not in header.rsplit("''", 1)[1] for ch in ' ";/\\')


def test_a_file_missing_from_storage_is_404_not_500(client_for, agent, public_file):
    public_file.file.storage.delete(public_file.file.name)
    assert client_for(agent).get(f"/attachments/{public_file.pk}/").status_code == 404


def test_media_is_never_served_by_url(client, public_file):
    assert client.get(f"/media/{public_file.file.name}").status_code == 404
    assert client.get(f"/{public_file.file.name}").status_code == 404


# --- The caller's download: /t/<secret>/attachments/<id>/ ------------------------------


def test_requester_link_downloads_its_own_public_attachment(client, ticket, public_file):
    response = client.get(f"/t/{ticket.secret}/attachments/{public_file.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''" + quote("Bericht März.pdf", safe="") in response["Content-Disposition"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    assert response["Referrer-Policy"] == "no-referrer"


def test_requester_link_never_serves_an_internal_attachment(client, ticket, internal_file):
    assert client.get(f"/t/{ticket.secret}/attachments/{internal_file.pk}/").status_code == 404


def test_requester_link_never_serves_another_tickets_attachment(client, ticket, queue):
    other = factories.TicketFactory(queue=queue)
    event = factories.TicketEventFactory(ticket=other, kind="reply", public=True)
    theirs = attachment_create(ticket=other, event=event, filename="theirs.pdf", content=PDF)
    assert client.get(f"/t/{ticket.secret}/attachments/{theirs.pk}/").status_code == 404
    assert client.get(f"/t/{other.secret}/attachments/{theirs.pk}/").status_code == 200


def test_wrong_secret_cannot_download(client, ticket, public_file):
    url = f"/t/{ticket.secret[:-2]}xx/attachments/{public_file.pk}/"
    assert client.get(url).status_code == 404


# --- The callers' pages ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "agent", "outsider", "stakeholder"])
def test_public_form_is_open_to_anyone_for_a_public_queue(client_for, cast, queue, who):
    queue.is_public = True
    queue.save(update_fields=["is_public"])
    assert status_of(client_for, cast[who], "/submit/service-desk/") == 200


@pytest.mark.parametrize("who", ["anonymous", "agent", "admin"])
def test_public_form_of_a_private_queue_is_404_for_everyone(client_for, cast, queue, who):
    assert status_of(client_for, cast[who], "/submit/service-desk/") == 404


@pytest.mark.parametrize("who", ["anonymous", "outsider", "stakeholder"])
def test_requester_page_is_open_to_whoever_holds_the_link(client_for, cast, ticket, who):
    assert status_of(client_for, cast[who], f"/t/{ticket.secret}/") == 200


@pytest.mark.parametrize("action", ["reply", "rating"])
def test_requester_actions_take_posts_only(client, ticket, action):
    assert client.get(f"/t/{ticket.secret}/{action}/").status_code == 405


@pytest.mark.parametrize("action", ["reply", "rating"])
def test_requester_actions_with_a_wrong_secret_are_404(client, ticket, action):
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    response = client.post(f"/t/{ticket.secret[:-2]}xx/{action}/", {"body": "hi", "score": "5"})
    assert response.status_code == 404
    assert not ticket.events.filter(kind__in=["reply", "rating"]).exists()


def test_requester_pages_post_only_with_a_csrf_token(ticket):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/t/{ticket.secret}/reply/", {"body": "hi"}).status_code == 403


def test_agent_ticket_page_links_every_file_through_the_agents_door(
    client_for, agent, ticket, public_file, internal_file
):
    page = client_for(agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'href="/attachments/{public_file.pk}/"' in page
    assert f'href="/attachments/{internal_file.pk}/"' in page
    assert f"/t/{ticket.secret}/attachments/" not in page
