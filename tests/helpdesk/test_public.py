"""Callers without an account: the public form, its confirmation, the requester link with
its reply and rating forms, and what a caller may never see there."""

import re
import uuid
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk import ratelimit, tasks
from helpdesk.attachments import attachment_create
from helpdesk.models import Attachment, Contact, SatisfactionRating, Ticket, TicketEvent
from helpdesk.views import public
from tests import factories

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def generous_rate_limit(settings):
    """Tests not about the limit never meet it. The limiter counts in the cache, which
    parallel test processes may share, so no test relies on a count it did not make."""
    settings.PUBLIC_SUBMIT_RATE_LIMIT = 10_000


@pytest.fixture
def new_address():
    """`new_address()` → a client address no other test, run or process has used."""

    def make():
        n = uuid.uuid4().int
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    return make


@pytest.fixture
def pinned_clock(monkeypatch):
    """The limiter's clock stands still, so no window ends in the middle of a test."""
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_700_000_000.0)


@pytest.fixture
def public_queue(queue):
    queue.is_public = True
    queue.save(update_fields=["is_public"])
    return queue


def form_data(**overrides):
    data = {
        "name": "Casey Caller",
        "email": "casey@example.org",
        "subject": "Laptop will not start",
        "description": "Since this morning it beeps three times.",
        "website": "",
    }
    data.update(overrides)
    return data


def png(name="screen.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def page_of(response) -> str:
    return response.content.decode()


def assert_keeps_typed(page, data, *, skip=()):
    """Every value the caller typed is back in the page, in its field."""
    for field, value in data.items():
        if field in skip or field == "website" or not value:
            continue
        assert value in unescape(page), f"{field} was lost"


# --- The public form -----------------------------------------------------------------


def test_public_form_is_offered_for_a_public_queue(client, public_queue):
    response = client.get("/submit/service-desk/")
    page = page_of(response)
    assert response.status_code == 200
    for name in ("name", "email", "subject", "description", "attachments"):
        assert f'name="{name}"' in page
    assert 'enctype="multipart/form-data"' in page
    assert "multiple" in re.search(r'<input[^>]*name="attachments"[^>]*>', page).group(0)


def test_honeypot_is_hidden_from_people_and_screen_readers(client, public_queue):
    page = page_of(client.get("/submit/service-desk/"))
    trap = re.search(r'<div class="hp" aria-hidden="true">(.*?)</div>', page, re.S)
    assert trap, "the honeypot sits in an aria-hidden wrapper"
    assert "Leave this field empty" in trap.group(1)
    field = re.search(r'<input[^>]*name="website"[^>]*>', trap.group(1)).group(0)
    assert 'tabindex="-1"' in field
    assert 'autocomplete="off"' in field


@pytest.mark.parametrize("slug", ["private-queue", "no-such-queue"])
def test_form_of_a_private_or_unknown_queue_is_404(client, queue, slug):
    factories.QueueFactory(slug="private-queue", is_public=False)
    assert client.get(f"/submit/{slug}/").status_code == 404
    assert client.post(f"/submit/{slug}/", form_data()).status_code == 404
    assert not Ticket.objects.exists()


def test_submitting_creates_a_web_ticket_with_its_files_and_acknowledges_after_commit(
    client, public_queue, media_root, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    enqueued = []
    monkeypatch.setattr(
        tasks.send_ticket_acknowledgement,
        "apply_async",
        lambda args, kwargs=None, **options: enqueued.append(*args),
    )
    files = [png(), SimpleUploadedFile("Bericht März.pdf", PDF, content_type="text/html")]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/submit/service-desk/", {**form_data(), "attachments": files})
        assert enqueued == [], "nothing is enqueued before the transaction commits"

    ticket = Ticket.objects.get()
    assert enqueued == [ticket.pk]
    assert response.status_code == 302
    assert response["Location"].startswith("/submit/service-desk/thanks/")
    assert ticket.queue == public_queue
    assert ticket.source == Ticket.Source.WEB
    assert ticket.subject == "Laptop will not start"
    assert ticket.description == "Since this morning it beeps three times."
    assert (ticket.requester.email, ticket.requester.name) == ("casey@example.org", "Casey Caller")
    stored = {a.filename: a for a in Attachment.objects.filter(ticket=ticket)}
    assert set(stored) == {"screen.png", "Bericht März.pdf"}
    # The type is what the bytes are, not what the browser claimed.
    assert stored["Bericht März.pdf"].content_type == "application/pdf"
    assert stored["screen.png"].event.kind == TicketEvent.Kind.CREATED
    assert stored["screen.png"].file.path.startswith(str(media_root))
    with stored["screen.png"].file.open("rb") as handle:
        assert handle.read() == PNG

    # The worker's part: the same link goes out by e-mail.
    tasks.send_ticket_acknowledgement(ticket.pk)
    assert len(mailoutbox) == 1
    assert f"/t/{ticket.secret}/" in mailoutbox[0].body

    confirmation = client.get(response["Location"])
    page = page_of(confirmation)
    assert confirmation.status_code == 200
    assert ticket.reference in page
    assert f"http://testserver/t/{ticket.secret}/" in page
    assert "e-mailed" in page
    assert confirmation["Cache-Control"] == "private, no-store"
    assert confirmation["Referrer-Policy"] == "same-origin"


def test_confirmation_cannot_be_reached_by_guessing(client, public_queue):
    ticket = factories.TicketFactory(queue=public_queue)
    other_queue = factories.QueueFactory(slug="other", is_public=True)
    token = signing.dumps({"t": ticket.pk}, salt=public.CONFIRMATION_SALT)
    assert client.get(f"/submit/service-desk/thanks/{token}/").status_code == 200
    # Tampered, unsigned or signed for another purpose: not found.
    assert client.get(f"/submit/service-desk/thanks/{token[:-2]}xx/").status_code == 404
    forged = signing.dumps({"t": ticket.pk}, salt="something else")
    assert client.get(f"/submit/service-desk/thanks/{forged}/").status_code == 404
    assert client.get(f"/submit/service-desk/thanks/{ticket.pk}/").status_code == 404
    # A genuine token shown under another queue's address: not found either.
    assert client.get(f"/submit/{other_queue.slug}/thanks/{token}/").status_code == 404


def test_an_old_confirmation_has_expired_and_says_where_the_link_is(
    client, public_queue, monkeypatch
):
    ticket = factories.TicketFactory(queue=public_queue)
    token = signing.dumps({"t": ticket.pk}, salt=public.CONFIRMATION_SALT)
    monkeypatch.setattr(public, "CONFIRMATION_MAX_AGE", -1)
    response = client.get(f"/submit/service-desk/thanks/{token}/")
    assert response.status_code == 410
    assert "We e-mailed the link" in page_of(response)
    assert ticket.secret not in page_of(response)


def test_a_filled_honeypot_creates_nothing_but_looks_like_success(
    client, public_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/submit/service-desk/", form_data(website="http://cheap-pills.example")
        )
    assert response.status_code == 302
    assert response["Location"].startswith("/submit/service-desk/thanks/")
    assert not Ticket.objects.exists()
    assert not Contact.objects.exists()
    assert callbacks == []
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you, we have your request" in page_of(thanks)


def test_rate_limit_answers_429_kindly_and_keeps_the_form(
    client, public_queue, settings, new_address, pinned_clock
):
    settings.PUBLIC_SUBMIT_RATE_LIMIT = 2
    settings.PUBLIC_SUBMIT_RATE_WINDOW = 600
    caller = new_address()
    for n in range(2):
        response = client.post(
            "/submit/service-desk/", form_data(subject=f"n{n}"), REMOTE_ADDR=caller
        )
        assert response.status_code == 302

    typed = form_data(
        subject="Third one in a row", description="Still broken.\nSecond line & more."
    )
    response = client.post(
        "/submit/service-desk/", {**typed, "attachments": [png()]}, REMOTE_ADDR=caller
    )
    page = page_of(response)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 601
    assert "You have sent several requests in a short time" in page
    assert "Everything you typed is kept" in page
    assert "choose them again" in page
    assert_keeps_typed(page, typed)
    assert Ticket.objects.count() == 2

    # Another address is counted on its own.
    other = client.post("/submit/service-desk/", form_data(), REMOTE_ADDR=new_address())
    assert other.status_code == 302


def test_rate_limit_counts_the_proxy_appended_address_behind_a_trusted_proxy(
    client, public_queue, settings, new_address, pinned_clock
):
    settings.PUBLIC_SUBMIT_RATE_LIMIT = 1
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxy = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_PROTO": "https"}
    caller = new_address()
    first = client.post(
        "/submit/service-desk/", form_data(), HTTP_X_FORWARDED_FOR=f"6.6.6.6, {caller}", **proxy
    )
    assert first.status_code == 302
    # The client's own claim (left of the proxy's entry) changes nothing.
    again = client.post(
        "/submit/service-desk/", form_data(), HTTP_X_FORWARDED_FOR=f"7.7.7.7, {caller}", **proxy
    )
    assert again.status_code == 429


def test_rate_limit_counts_an_ipv6_client_per_64_block(rf):
    one = rf.get("/", REMOTE_ADDR="2001:db8:1:2::1")
    same_block = rf.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9")
    assert ratelimit.client_address(one) == ratelimit.client_address(same_block)
    assert ratelimit.client_address(one) == "2001:db8:1:2::/64"
    assert ratelimit.client_address(rf.get("/", REMOTE_ADDR="::ffff:192.0.2.7")) == "192.0.2.7"


def test_rate_limit_lets_requests_through_when_the_cache_is_down(monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(ratelimit.cache, "add", broken)
    limit = ratelimit.RateLimit(scope="test", limit=1, window=60)
    assert limit.hit("192.0.2.1").allowed
    assert limit.hit("192.0.2.1").allowed


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"subject": ""}, "subject", "This field is required."),
        ({"name": ""}, "name", "This field is required."),
        ({"description": "   "}, "description", "This field is required."),
    ],
)
def test_form_errors_name_the_field_and_keep_everything_typed(
    client, public_queue, change, field, message
):
    typed = form_data(**change)
    response = client.post("/submit/service-desk/", typed)
    page = page_of(response)
    assert response.status_code == 400
    assert re.search(rf'<a href="#id_{field}">[^<]*: {re.escape(message)}</a>', page)
    assert f'id="id_{field}_error"' in page
    assert_keeps_typed(page, typed)
    assert not Ticket.objects.exists()


def test_a_rejected_attachment_is_named_and_the_text_is_kept(client, public_queue):
    typed = form_data()
    svg = SimpleUploadedFile("diagram.png", SVG, content_type="image/png")
    response = client.post("/submit/service-desk/", {**typed, "attachments": [png(), svg]})
    page = unescape(page_of(response))
    assert response.status_code == 400
    assert "Attachments: “diagram.png” is a kind of file we do not accept (image/svg+xml)" in page
    assert "choose them again" in page
    assert_keeps_typed(page, typed)
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_an_attachment_over_the_size_limit_is_refused_before_it_is_read(
    client, public_queue, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("huge.pdf", PDF + b"0" * (2 * 1024 * 1024), "application/pdf")
    response = client.post("/submit/service-desk/", {**form_data(), "attachments": [big]})
    assert response.status_code == 400
    assert "“huge.pdf” is 2 MB; files may be at most 1 MB." in unescape(page_of(response))


# --- The requester link --------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "on_hold", "resolved"])
def test_requester_reply_reopens_the_ticket(client, ticket, status):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    response = client.post(
        f"/t/{ticket.secret}/reply/", {"body": "It is **broken** again.", "attachments": [png()]}
    )
    ticket.refresh_from_db()
    event = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert response.status_code == 302
    assert response["Location"] == f"/t/{ticket.secret}/#event-{event.pk}"
    assert ticket.status == Ticket.Status.OPEN
    assert event.public and event.author_contact == ticket.requester
    assert event.attachments.get().filename == "screen.png"
    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert "<strong>broken</strong>" in page
    assert "Thank you, your reply was added." in page
    assert f"/t/{ticket.secret}/attachments/{event.attachments.get().pk}/" in page


def test_requester_page_stays_out_of_caches_and_other_sites_referers(client, ticket):
    response = client.get(f"/t/{ticket.secret}/")
    assert response["Cache-Control"] == "private, no-store"
    # Not "no-referrer": browsers would then send `Origin: null` with the page's own
    # forms and the CSRF check would refuse every reply (the browser test shows it).
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_requester_page_says_a_reply_reopens_a_resolved_ticket(client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    assert "Replying reopens this ticket." in page_of(client.get(f"/t/{ticket.secret}/"))


def test_reply_errors_keep_the_draft(client, ticket):
    svg = SimpleUploadedFile("logo.svg", SVG, content_type="image/svg+xml")
    draft = "My draft <b>with</b> a second line\nthat must not be lost."
    response = client.post(f"/t/{ticket.secret}/reply/", {"body": draft, "attachments": [svg]})
    page = page_of(response)
    assert response.status_code == 400
    assert "“logo.svg” is a kind of file we do not accept" in unescape(page)
    assert draft in unescape(page)
    assert "choose them again" in page
    assert not ticket.events.filter(kind=TicketEvent.Kind.REPLY).exists()


def test_an_empty_reply_is_refused_clearly(client, ticket):
    response = client.post(f"/t/{ticket.secret}/reply/", {"body": "   "})
    assert response.status_code == 400
    assert "Write something, or attach a file." in page_of(response)


def test_closed_ticket_says_it_is_closed_and_how_to_open_a_new_one(client, ticket, public_queue):
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert "This ticket is closed" in page
    assert 'href="/submit/service-desk/"' in page
    assert f"/t/{ticket.secret}/reply/" not in page, "no reply form on a closed ticket"

    draft = "One more thing about the printer."
    response = client.post(f"/t/{ticket.secret}/reply/", {"body": draft})
    assert response.status_code == 409
    assert draft in page_of(response)
    assert not ticket.events.filter(kind=TicketEvent.Kind.REPLY).exists()


def test_closed_ticket_of_a_private_queue_points_to_its_mailbox(client, ticket, queue):
    queue.inbound_address = "help@example.org"
    queue.save(update_fields=["inbound_address"])
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert 'href="mailto:help@example.org"' in page
    assert "/submit/" not in page


def test_caller_rates_a_resolved_ticket_once(client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert "How did we do?" in page
    radios = re.findall(
        r'<input type="radio" name="score" value="(\d)"[^>]*id="(id_score_\d)"', page
    )
    assert [value for value, _ in radios] == ["1", "2", "3", "4", "5"]
    for _, radio_id in radios:
        assert f'<label class="score-choice" for="{radio_id}">' in page
    assert "Excellent" in page and "Very poor" in page

    response = client.post(f"/t/{ticket.secret}/rating/", {"score": "4", "comment": "Quick!"})
    assert response.status_code == 302
    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert (rating.score, rating.comment) == (4, "Quick!")
    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert "Thank you for your rating" in page
    assert "4 out of 5" in page
    assert f"/t/{ticket.secret}/rating/" not in page, "the form is gone once rated"

    again = client.post(f"/t/{ticket.secret}/rating/", {"score": "1", "comment": "Changed"})
    assert again.status_code == 409
    assert "This ticket has already been rated." in page_of(again)
    assert SatisfactionRating.objects.get(ticket=ticket).score == 4


def test_an_open_ticket_cannot_be_rated_yet(client, ticket):
    assert "How did we do?" not in page_of(client.get(f"/t/{ticket.secret}/"))
    response = client.post(f"/t/{ticket.secret}/rating/", {"score": "5"})
    assert response.status_code == 409
    assert "You can rate a ticket once it is resolved." in page_of(response)
    assert not SatisfactionRating.objects.exists()


def test_a_rating_without_a_score_asks_for_one_and_keeps_the_comment(client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    response = client.post(f"/t/{ticket.secret}/rating/", {"comment": "Friendly people"})
    assert response.status_code == 400
    assert "Choose a score from 1 to 5." in page_of(response)
    assert "Friendly people" in page_of(response)


def test_internal_notes_and_their_files_never_reach_the_requester(client, ticket, agent):
    reply = factories.TicketEventFactory(
        ticket=ticket, kind="reply", public=True, author=agent, body="We are on it"
    )
    note = factories.TicketEventFactory(
        ticket=ticket, kind="note", public=False, author=agent, body="Caller is VIP"
    )
    system = factories.TicketEventFactory(
        ticket=ticket, kind="system", public=False, body="Escalated to vendor"
    )
    shared = attachment_create(ticket=ticket, event=reply, filename="steps.pdf", content=PDF)
    secret_file = attachment_create(
        ticket=ticket, event=note, filename="vip-contract.pdf", content=PDF
    )
    loose = attachment_create(ticket=ticket, event=None, filename="loose.pdf", content=PDF)

    response = client.get(f"/t/{ticket.secret}/")
    page = page_of(response)
    assert "We are on it" in page and "steps.pdf" in page
    for hidden in ("Caller is VIP", "vip-contract.pdf", "Escalated to vendor", "loose.pdf"):
        assert hidden not in page
    # Filtered by the view, not only by the template.
    assert {event.pk for event in response.context["events"]} == {reply.pk}
    assert system.pk and note.pk
    base = f"/t/{ticket.secret}/attachments"
    assert client.get(f"{base}/{shared.pk}/").status_code == 200
    assert client.get(f"{base}/{secret_file.pk}/").status_code == 404
    assert client.get(f"{base}/{loose.pk}/").status_code == 404


# --- Hostile text renders inert ------------------------------------------------------

HOSTILE = {
    "name": "<svg onload=alert('name')>Mallory</svg>",
    "subject": "<script>alert('subject')</script><img src=x onerror=alert(1)>",
    "description": (
        "[click me](javascript:alert('md'))\n\n"
        '<a href="javascript:alert(2)">html link</a> <img src=x onerror="alert(3)">\n\n'
        "<svg><script>alert('svg')</script><animate onbegin=alert(4) /></svg>\n\n"
        '<iframe src="//evil.example"></iframe><div style="x" onclick="alert(5)">div</div>'
    ),
    "reply": (
        "<script>alert('reply')</script> "
        '<a href="JaVaScRiPt:alert(6)">mixed case</a> '
        '<math><mi xlink:href="javascript:alert(7)">math</mi></math> '
        "<svg/onload=alert(8)> <object data='x.swf'></object>"
    ),
}
FORBIDDEN_TAGS = {"svg", "math", "iframe", "object", "embed", "img", "style", "animate", "base"}


class _ActiveContent(HTMLParser):
    """Collects everything in a page that could run: handlers, script URLs, foreign
    markup, scripts that are not our own."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag}>")
        attributes = dict(attrs)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            self.found.append("inline <script>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")):
                self.found.append(f"{name}={value} on <{tag}>")

    handle_startendtag = handle_starttag


def assert_inert(page):
    parser = _ActiveContent()
    parser.feed(page)
    assert parser.found == []


def test_hostile_text_from_a_caller_renders_inert_on_the_requester_page(client, public_queue):
    response = client.post(
        "/submit/service-desk/",
        form_data(
            name=HOSTILE["name"], subject=HOSTILE["subject"], description=HOSTILE["description"]
        ),
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    client.post(f"/t/{ticket.secret}/reply/", {"body": HOSTILE["reply"]})
    factories.TicketEventFactory(ticket=ticket, kind="reply", body=HOSTILE["reply"])

    page = page_of(client.get(f"/t/{ticket.secret}/"))
    assert_inert(page)
    # Shown as text, not dropped: the caller sees what they wrote.
    assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt;" in page
    assert "&lt;svg onload=alert(&#x27;name&#x27;)&gt;Mallory" in page
    assert "click me" in page and "mixed case" in page

    assert_inert(page_of(client.get(response["Location"])))


def test_hostile_text_in_a_form_with_errors_renders_inert(client, public_queue):
    response = client.post(
        "/submit/service-desk/",
        form_data(
            email="<script>alert(1)</script>",
            name=HOSTILE["name"],
            subject=HOSTILE["subject"],
            description=HOSTILE["description"],
        ),
    )
    assert response.status_code == 400
    assert_inert(page_of(response))


# --- Query counts --------------------------------------------------------------------

# The ticket with its queue, requester and project; its public events with their people;
# the files of those events. A resolved or closed ticket adds its rating.
REQUESTER_PAGE_QUERIES = 3


@pytest.mark.parametrize("events", [1, 30])
@pytest.mark.parametrize(
    ("status", "queries"),
    [("open", REQUESTER_PAGE_QUERIES), ("resolved", REQUESTER_PAGE_QUERIES + 1)],
)
def test_requester_page_runs_a_constant_number_of_queries(
    client, ticket, agent, events, status, queries, django_assert_num_queries
):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    for n in range(events):
        event = factories.TicketEventFactory(
            ticket=ticket, author=agent if n % 2 else None, author_contact=ticket.requester
        )
        attachment_create(ticket=ticket, event=event, filename=f"shot-{n}.png", content=PNG)
        factories.TicketEventFactory(ticket=ticket, kind="note", public=False, author=agent)
    with django_assert_num_queries(queries):
        response = client.get(f"/t/{ticket.secret}/")
    assert response.status_code == 200
    assert page_of(response).count('class="attachment-name"') == events
