"""helpdesk/mail.py on its own: MIME in, what a person wrote out. Real parsing, no mocks.

`make_mail` builds messages with the standard library; the inbound, webhook and ingest
tests import it from here.
"""

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest

from config.text import render_user_text
from helpdesk import mail

HOSTILE_HTML = """<html><head><title>Invoice</title>
<style>body { background: url(javascript:alert(1)) }</style>
<script>alert('head')</script></head>
<body onload="alert('body')">
<p>Hello, <b>my laptop</b> will not start.</p>
<img src="x" onerror="alert('img')">
<a href="javascript:alert('link')">click me</a>
<a href="https://example.org/help" onclick="alert('click')">the manual</a>
<svg onload="alert('svg')"><script>alert('svg script')</script><text>svg text</text></svg>
<iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="password"></form>
<p>Thanks, Casey</p>
</body></html>"""
INERT_MARKERS = (
    "<script",
    "onerror",
    "onload",
    "onclick",
    "javascript:",
    "<svg",
    "<iframe",
    "alert(",
)


def make_mail(
    *,
    subject="Printer on fire",
    sender="Casey Caller <caller@example.org>",
    to="help@bridgedesk.example",
    body="The printer on floor 2 is on fire.",
    html=None,
    headers=None,
    attachments=(),
    message_id=None,
) -> bytes:
    """A message as a mail client would send it. `attachments`: (name, bytes, type)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id or make_msgid(domain="example.org")
    for name, value in (headers or {}).items():
        msg[name] = value
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for filename, content, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def test_plain_message_gives_sender_subject_text_and_ids():
    parsed = mail.parse(
        make_mail(
            message_id="<one@example.org>",
            headers={"In-Reply-To": "<two@x>", "References": "<zero@x> <one-and-a-half@x>"},
        )
    )
    assert (parsed.from_name, parsed.from_email) == ("Casey Caller", "caller@example.org")
    assert parsed.subject == "Printer on fire"
    assert parsed.text == "The printer on floor 2 is on fire."
    assert parsed.message_id == "<one@example.org>"
    assert parsed.references == ["<two@x>", "<one-and-a-half@x>", "<zero@x>"]
    assert parsed.recipients == ["help@bridgedesk.example"]
    assert parsed.auto_reason == ""


def test_html_only_mail_becomes_text_keeping_its_layout():
    html = (
        "<div><p>First paragraph<br>second line</p><ul><li>one</li><li>two</li></ul>"
        '<p>See <a href="https://example.org/kb/1">the article</a>.</p>'
        "<table><tr><td>Model</td><td>X1</td></tr></table></div>"
    )
    text = mail.parse(make_mail(body=None, html=html)).text
    assert text == (
        "First paragraph\nsecond line\n\n- one\n- two\n\n"
        "See the article <https://example.org/kb/1>.\n\nModel X1"
    )


def test_plain_alternative_is_preferred_over_html():
    parsed = mail.parse(make_mail(body="plain words", html="<p>html words</p>"))
    assert parsed.text == "plain words"


def test_empty_plain_alternative_falls_back_to_the_html():
    parsed = mail.parse(make_mail(body="\n", html="<p>html words</p>"))
    assert parsed.text == "html words"


def test_hostile_html_leaves_only_inert_text():
    text = mail.parse(make_mail(body=None, html=HOSTILE_HTML)).text
    for marker in INERT_MARKERS:
        assert marker not in text.lower()
    assert "my laptop will not start" in text
    assert "the manual <https://example.org/help>" in text
    assert "click me" in text  # the words stay, the javascript: link is gone
    assert "svg text" not in text and "Invoice" not in text
    rendered = str(render_user_text(text))
    for marker in INERT_MARKERS:
        assert marker not in rendered.lower()


def test_html_that_spells_out_markup_as_text_stays_text_and_renders_inert():
    # The sender wrote the words "<script>…" in their message: it is their text, and the
    # one sanitiser keeps it from ever running.
    text = mail.html_to_text("<p>&lt;script&gt;alert(1)&lt;/script&gt; broke</p>")
    assert text == "<script>alert(1)</script> broke"
    assert "<script" not in str(render_user_text(text))


def test_blockquotes_become_quoted_lines_so_html_replies_trim_like_plain_ones():
    html = (
        "<div>Thanks, that fixed it.</div><div class='gmail_quote'>"
        "On Mon, 4 Mar 2024 at 10:00, Service desk &lt;help@bridgedesk.example&gt; wrote:"
        "<blockquote><p>Please restart the router.</p></blockquote></div>"
    )
    text = mail.html_to_text(html)
    assert "> Please restart the router." in text
    assert mail.trim_quoted(text) == "Thanks, that fixed it."


@pytest.mark.parametrize(
    "reply",
    [
        "Works now.\n\nOn Tue, 5 Mar 2024 at 18:03, Service desk <help@bridgedesk.example> "
        "wrote:\n> Please restart.\n> \n> Agent",
        # Gmail wraps a long attribution line
        "Works now.\n\nOn Tue, 5 Mar 2024 at 18:03, Service desk <help@bridgedesk.example>\n"
        "wrote:\n\n> Please restart.",
        "Works now.\n\n-----Original Message-----\nFrom: Service desk\nSent: Tuesday\n\nRestart.",
        "Works now.\n\nFrom: Service desk <help@bridgedesk.example>\nSent: Tuesday, 5 March "
        "2024 18:03\nTo: Casey\nSubject: RE: [SD-1] Printer\n\nPlease restart.",
        "Works now.\n\n________________________________\nFrom: Service desk\nSent: Tuesday\n",
        "Works now.\n\n-- \nCasey Caller\nFinance, floor 2",
        "Works now.\n\nSent from my iPhone\n\n> Please restart.",
        "Works now.\n\n> Please restart.\n> Agent\n\n",
        "Works now.\n\nAm Di., 5. März 2024 um 18:03 Uhr schrieb Service desk "
        "<help@bridgedesk.example>:\n> Bitte neu starten.",
    ],
)
def test_quoted_history_and_signature_are_trimmed_from_replies(reply):
    assert mail.trim_quoted(reply) == "Works now."


def test_an_answer_written_between_quotes_is_kept():
    reply = "> Did you restart it?\nYes, twice.\n> Which model?\nX1"
    assert mail.trim_quoted(reply) == reply


def test_a_sentence_that_ends_in_wrote_is_not_history():
    reply = "On Monday the plotter wrote:\ngarbage all over the page."
    assert mail.trim_quoted(reply) == reply


def test_a_reply_that_is_only_quote_is_kept_whole_rather_than_lost():
    assert mail.trim_quoted("> just the quote") == "> just the quote"


def test_forwards_are_recognised_by_subject_or_marker():
    assert mail.is_forward("Fwd: printer", "")
    assert mail.is_forward("RE: FW: printer", "")
    assert mail.is_forward("printer", "---------- Forwarded message ---------\nFrom: x")
    assert mail.is_forward("printer", "Begin forwarded message:\n\nFrom: x")
    assert not mail.is_forward("Re: printer", "On Tue, 5 Mar 2024 x wrote:")


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated"}, None, "Auto-Submitted: auto-generated"),
        ({"Precedence": "bulk"}, None, "Precedence: bulk"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"Precedence": "auto_reply"}, None, "Precedence: auto_reply"),
        ({"X-Autoreply": "yes"}, None, "X-Autoreply: yes"),
        ({"X-Autorespond": "Out of office"}, None, "X-Autorespond: out of office"),
        ({"Return-Path": "<>"}, None, "empty Return-Path (a bounce)"),
        ({}, "Mail Delivery System <MAILER-DAEMON@mx.example.org>", "a bounce"),
        ({}, "postmaster@example.org", "a bounce"),
    ],
)
def test_mail_written_by_machines_is_recognised(headers, sender, reason):
    raw = make_mail(headers=headers, sender=sender or "Casey <caller@example.org>")
    assert reason in mail.parse(raw).auto_reason


def test_auto_submitted_no_is_a_person():
    assert mail.parse(make_mail(headers={"Auto-Submitted": "no"})).auto_reason == ""


def test_delivery_reports_are_recognised():
    report = (
        b"From: Mail Delivery <bounces@mx.example.org>\r\nTo: help@bridgedesk.example\r\n"
        b"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    )
    assert "multipart/report" in mail.parse(report).auto_reason


@pytest.mark.parametrize(
    ("subject", "references"),
    [
        ("[SD-42] Printer on fire", [("SD", 42)]),
        ("Re: SD-42", [("SD", 42)]),
        ("RE: [sd-7] lowercase in brackets", [("SD", 7)]),
        ("Re: Re: [SD-42] about VPN-3 too", [("SD", 42), ("VPN", 3)]),
        ("wifi-6 is slow", []),
        ("Printer on fire", []),
        ("SD-0 is not a number we give", []),
    ],
)
def test_ticket_references_in_subjects(subject, references):
    assert mail.subject_references(subject) == references


def test_a_very_long_subject_is_cut_at_a_word_within_the_column():
    subject = "Laptop " + " ".join(["keyboard"] * 60)
    cleaned = mail.clean_subject(subject)
    assert len(cleaned) <= 255
    assert cleaned.endswith("keyboard…")


def test_a_very_long_word_is_cut_hard():
    cleaned = mail.clean_subject("x" * 400)
    assert len(cleaned) == 255 and cleaned.endswith("…")


def test_bytes_that_do_not_decode_become_replacement_characters():
    raw = (
        b"From: caller@example.org\r\nTo: help@bridgedesk.example\r\nSubject: bad bytes\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"caf\xc3\xa9 and \xff\xfe broken \x00 nul\r\n"
    )
    text = mail.parse(raw).text
    assert text.startswith("café and ")
    assert "\ufffd" in text
    assert "\x00" not in text


def test_an_unknown_charset_is_read_as_utf8():
    raw = (
        b"From: caller@example.org\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nna\xc3\xafve\r\n"
    )
    assert mail.parse(raw).text == "naïve"


def test_a_mislabelled_ascii_message_in_utf8_is_read_as_utf8():
    raw = (
        b"From: caller@example.org\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\n"
        b"\xc5\xbelut\xc3\xbd\r\n"
    )
    assert mail.parse(raw).text == "žlutý"


def test_format_flowed_is_unflowed():
    raw = (
        b"From: caller@example.org\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
        b"This line was \r\nsoft-wrapped.\r\nHard break.\r\n"
    )
    assert mail.parse(raw).text == "This line was soft-wrapped.\nHard break."


def test_attachments_are_kept_with_their_names():
    raw = make_mail(
        attachments=[
            ("Report – Q1.pdf", b"%PDF-1.4 test", "application/pdf"),
            ("notes.txt", b"some notes", "text/plain"),
        ]
    )
    parsed = mail.parse(raw)
    assert [(f.filename, f.content) for f in parsed.attachments] == [
        ("Report – Q1.pdf", b"%PDF-1.4 test"),
        ("notes.txt", b"some notes"),
    ]
    assert parsed.text == "The printer on floor 2 is on fire."


def test_inline_images_of_an_html_alternative_are_kept_as_files():
    msg = EmailMessage()
    msg["From"] = "caller@example.org"
    msg["Subject"] = "Screenshot"
    msg.set_content("See the screenshot.")
    msg.add_alternative('<p>See the screenshot.</p><img src="cid:shot">', subtype="html")
    msg.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, maintype="image", subtype="png", cid="<shot>"
    )
    parsed = mail.parse(msg.as_bytes())
    assert parsed.text == "See the screenshot."
    assert [f.filename for f in parsed.attachments] == ["attachment-1.png"]


def test_an_attached_message_is_kept_whole_as_an_eml_file():
    inner = EmailMessage()
    inner["From"] = "boss@example.org"
    inner["Subject"] = "Budget"
    inner.set_content("The budget is attached.")
    outer = EmailMessage()
    outer["From"] = "caller@example.org"
    outer["Subject"] = "Fwd: Budget"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    parsed = mail.parse(outer.as_bytes())
    assert parsed.text == "See below."
    assert [f.filename for f in parsed.attachments] == ["Budget.eml"]
    assert b"The budget is attached." in parsed.attachments[0].content


def test_a_message_without_message_id_gets_a_stable_dedupe_key():
    raw = b"From: caller@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    assert mail.header_message_id(raw) == ""
    assert mail.dedupe_key(raw) == mail.dedupe_key(raw)
    assert mail.dedupe_key(raw).startswith("<sha256-")
    assert mail.dedupe_key(raw) != mail.dedupe_key(raw + b"more")


def test_message_ids_are_normalised():
    assert mail.normalise_message_id("  <a@b>  ") == "<a@b>"
    assert mail.normalise_message_id("a@b") == "<a@b>"
    assert mail.normalise_message_id("") == ""
    assert mail.normalise_message_id("<" + "x" * 300 + "@b>") == ""


def test_garbage_parses_to_a_message_without_sender():
    parsed = mail.parse(b"\x00\xff\xfe this is not mail at all")
    assert parsed.from_email == ""
