"""E-mail as data: reading inbound MIME, threading, trimming quoted history, telling
people from machines (auto-replies, bounces), HTML to text, and the headers of the mail
we send so that answers thread back.

Nothing here writes to the database; helpdesk/inbound.py decides what a message does and
helpdesk/tasks.py sends. Parsing never raises on bad input: whatever cannot be decoded is
decoded as far as possible (replacement characters), because the raw message is kept
anyway and an agent is better served by 95 % of a text than by an error.
"""

import email
import email.policy
import hashlib
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import formataddr, getaddresses, make_msgid, parseaddr
from html.parser import HTMLParser
from urllib.parse import urlparse

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

SUBJECT_MAX_LENGTH = 255  # Ticket.subject
MESSAGE_ID_MAX_LENGTH = 255  # TicketEvent.message_id, InboundMessage.message_id
# Headers that name who a message was delivered to, most trustworthy first: the MTA's
# own delivery headers, then what the sender wrote.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


@dataclass(frozen=True)
class MailFile:
    """An attachment as the sender named it."""

    filename: str
    content: bytes


@dataclass
class ParsedMail:
    """What a person wrote, and the facts about the message the help desk acts on."""

    message_id: str = ""  # "<id@host>", or "" when the message had none
    subject: str = ""
    from_name: str = ""
    from_email: str = ""  # lower case and valid, or "" when there is no usable sender
    recipients: list[str] = field(default_factory=list)  # RECIPIENT_HEADERS order
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then newest
    text: str = ""
    attachments: list[MailFile] = field(default_factory=list)
    auto_reason: str = ""  # why this was written by a machine; "" when by a person
    is_forward: bool = False


# --- Parsing ---------------------------------------------------------------------------


def parse(raw: bytes) -> ParsedMail:
    """Read one RFC 5322 message. Never raises for malformed input."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    from_name, from_email = _sender(msg)
    subject = clean_subject(header(msg, "Subject"))
    body: list[str] = []
    files: list[MailFile] = []
    _collect(msg, body, files, want_text=True)
    text = "\n\n".join(part for part in body if part.strip())
    return ParsedMail(
        message_id=normalise_message_id(header(msg, "Message-ID")),
        subject=subject,
        from_name=from_name,
        from_email=from_email,
        recipients=_recipients(msg),
        references=_references(msg),
        text=text.strip("\n"),
        attachments=files,
        auto_reason=auto_reply_reason(msg),
        is_forward=is_forward(subject, text),
    )


def header(msg: Message, name: str) -> str:
    """The decoded value of the first `name` header, "" if absent. Falls back to the raw
    value when the header is too malformed for the parser."""
    try:
        value = msg.get(name)
        return "" if value is None else _without_controls(str(value))
    except Exception:  # malformed headers raise all sorts of things
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return _without_controls(_decode_words(str(value)))
        return ""


def headers(msg: Message, name: str) -> list[str]:
    """Every `name` header, decoded."""
    try:
        return [_without_controls(str(value)) for value in msg.get_all(name) or []]
    except Exception:
        return [
            _without_controls(_decode_words(str(value)))
            for key, value in msg.raw_items()
            if key.lower() == name.lower()
        ]


def _decode_words(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _without_controls(value: str) -> str:
    # NUL cannot be stored in PostgreSQL text; other controls have no business in a header.
    return "".join(ch if ch.isprintable() or ch in "\t\n\r " else " " for ch in value)


def header_message_id(raw: bytes) -> str:
    """The Message-ID of raw bytes, reading the headers only; "" if there is none."""
    try:
        msg = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        return normalise_message_id(_decode_words(str(msg.get("Message-ID", ""))))
    except Exception:
        return ""


def header_recipient(raw: bytes) -> str:
    """The first delivery address named in the headers of raw bytes, "" if none."""
    try:
        msg = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception:
        return ""
    recipients = _recipients(msg)
    return recipients[0] if recipients else ""


def dedupe_key(raw: bytes) -> str:
    """The message's Message-ID, or for a message without one an id made from its bytes,
    so the same message ingested twice is still recognised."""
    return header_message_id(raw) or f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@invalid>"


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def normalise_message_id(value: str) -> str:
    """`<id@host>` from a header value; "" if empty or absurdly long."""
    value = value.strip()
    match = _MESSAGE_ID.search(value)
    if match:
        value = f"<{match.group(1)}>"
    elif value and not any(ch.isspace() for ch in value):
        value = f"<{value}>"
    else:
        return ""
    return value if len(value) <= MESSAGE_ID_MAX_LENGTH else ""


def _references(msg: Message) -> list[str]:
    """Ids this message answers: In-Reply-To first, then References newest first."""
    found = []
    for value in headers(msg, "In-Reply-To"):
        found += [f"<{mid}>" for mid in _MESSAGE_ID.findall(value)]
    for value in headers(msg, "References"):
        found += reversed([f"<{mid}>" for mid in _MESSAGE_ID.findall(value)])
    unique = list(dict.fromkeys(mid for mid in found if len(mid) <= MESSAGE_ID_MAX_LENGTH))
    return unique[:50]


def valid_address(address: str) -> str:
    """`address` in lower case if it is a usable e-mail address, else ""."""
    address = address.strip().lower()
    if len(address) > 254:
        return ""
    try:
        validate_email(address)
    except ValidationError:
        return ""
    return address


def _addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    try:
        return getaddresses(list(values))
    except Exception:
        return []


def _sender(msg: Message) -> tuple[str, str]:
    """(name, address) of whoever wrote the message: From, else Reply-To, Sender,
    Return-Path."""
    for name in ("From", "Reply-To", "Sender", "Return-Path"):
        for display, address in _addresses(headers(msg, name)):
            address = valid_address(address)
            if address:
                return " ".join(display.split())[:200], address
    return "", ""


def _recipients(msg: Message) -> list[str]:
    found = []
    for name in RECIPIENT_HEADERS:
        found += [valid_address(address) for _, address in _addresses(headers(msg, name))]
    return list(dict.fromkeys(address for address in found if address))


def clean_subject(subject: str) -> str:
    """One line, at most SUBJECT_MAX_LENGTH characters, cut at a word where one is near."""
    subject = " ".join(subject.split())
    if len(subject) <= SUBJECT_MAX_LENGTH:
        return subject
    cut = subject[: SUBJECT_MAX_LENGTH - 1]
    space = cut.rfind(" ")
    if space >= SUBJECT_MAX_LENGTH * 3 // 4:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


# --- Body and attachments ----------------------------------------------------------------


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or bool(part.get_filename())
    except Exception:
        return True


def _collect(part: Message, body: list[str], files: list[MailFile], *, want_text: bool) -> None:
    """Walk a MIME tree: readable text into `body` (when `want_text`), everything else
    into `files`. An attached message stays one .eml file; we do not walk into it."""
    ctype = part.get_content_type()
    if ctype.startswith("message/"):
        files.append(_attached_message(part, len(files)))
        return
    if part.is_multipart():
        subparts = [sub for sub in part.get_payload() if isinstance(sub, Message)]
        if ctype == "multipart/alternative":
            chosen = _best_alternative(subparts) if want_text else None
            for sub in subparts:
                # The other alternatives still carry files (inline images) worth keeping.
                _collect(sub, body, files, want_text=sub is chosen)
            return
        for sub in subparts:
            _collect(sub, body, files, want_text=want_text)
        return
    if ctype in ("text/plain", "text/html") and not _is_attachment(part):
        if want_text:
            text = decode_text(part)
            body.append(html_to_text(text) if ctype == "text/html" else text)
        return
    content = _payload(part)
    if content:
        files.append(MailFile(_filename(part, len(files)), content))


def _best_alternative(parts: list[Message]) -> Message | None:
    """The plain-text alternative when it says something, else the richest one (RFC 2046
    orders alternatives simplest first)."""
    for part in parts:
        plain = part.get_content_type() == "text/plain" and not _is_attachment(part)
        if plain and decode_text(part).strip():
            return part
    for part in reversed(parts):
        if part.is_multipart() or part.get_content_type() == "text/html":
            return part
    return parts[-1] if parts else None


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else b""


def decode_text(part: Message) -> str:
    """A text part's content as str: the declared charset, else UTF-8, else the declared
    charset with replacement characters. Unflows format=flowed."""
    payload = _payload(part)
    declared = part.get_content_charset() or "utf-8"
    text = None
    for charset in dict.fromkeys((declared, "utf-8")):
        try:
            text = payload.decode(charset)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    if text is None:
        try:
            text = payload.decode(declared, errors="replace")
        except LookupError:
            text = payload.decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if part.get_content_type() == "text/plain" and part.get_param("format", "").lower() == "flowed":
        text = unflow(text, delsp=part.get_param("delsp", "").lower() == "yes")
    return "\n".join(line.rstrip() for line in text.split("\n"))


def unflow(text: str, *, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines of the same quote depth."""
    out: list[str] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffed
            content = content[1:]
        if joining and out and out[-1][0] == depth:
            out[-1] = (depth, out[-1][1] + content)
        else:
            out.append((depth, content))
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            out[-1] = (depth, out[-1][1][:-1])
        joining = soft
    return "\n".join(
        ">" * depth + (" " if depth and content else "") + content for depth, content in out
    )


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = " ".join(_without_controls(name).split())
    if name:
        return name
    extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"attachment-{index + 1}{extension}"


def _attached_message(part: Message, index: int) -> MailFile:
    inner = part.get_payload()
    inner = inner[0] if isinstance(inner, list) and inner else inner
    content = b""
    if isinstance(inner, Message):
        try:
            content = inner.as_bytes(policy=email.policy.compat32)
        except Exception:
            content = inner.as_string(policy=email.policy.compat32).encode("utf-8", "replace")
    name = ""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name and isinstance(inner, Message):
        name = clean_subject(header(inner, "Subject"))[:80]
        name = f"{name or 'message'}.eml"
    return MailFile(name or f"message-{index + 1}.eml", content or _payload(part))


# --- Machines, not people ----------------------------------------------------------------

_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Autoresponder")
_DAEMONS = {"mailer-daemon", "postmaster"}


def auto_reply_reason(msg: Message) -> str:
    """Why a machine wrote this message (auto-reply, bounce, delivery or read report), or
    "" when a person did. Such mail must never open tickets nor be answered: answering
    machines is how mail loops start."""
    auto = header(msg, "Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in _AUTO_HEADERS:
        value = header(msg, name).strip().lower()
        if name in msg and value not in ("no", "false", "0"):
            return f"{name}: {value or 'present'}"
    for value in headers(msg, "Return-Path"):
        if value.strip() in ("<>", ""):
            return "empty Return-Path (a bounce)"
    for name in ("From", "Sender"):
        for _, address in _addresses(headers(msg, name)):
            if address.split("@")[0].strip().lower() in _DAEMONS:
                return f"sent by {address} (a bounce)"
    ctype = msg.get_content_type()
    if ctype == "multipart/report" or ctype in (
        "message/delivery-status",
        "message/disposition-notification",
    ):
        return f"{ctype} (a delivery or read report)"
    return ""


# --- Threading ---------------------------------------------------------------------------

# [SD-42] anywhere, in any case; a bare SD-42 only in capitals, so ordinary words with a
# number ("wifi-6") do not thread by accident.
_BRACKETED_REFERENCE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9]{1,9})-([1-9][0-9]{0,9})\s*\]")
_BARE_REFERENCE = re.compile(r"(?<![A-Za-z0-9-])([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,9})(?![0-9])")


def subject_references(subject: str) -> list[tuple[str, int]]:
    """Ticket references (queue key, number) in a subject, bracketed ones first."""
    found = [(key.upper(), int(num)) for key, num in _BRACKETED_REFERENCE.findall(subject)]
    found += [(key, int(num)) for key, num in _BARE_REFERENCE.findall(subject)]
    return list(dict.fromkeys(found))


def mail_domain() -> str:
    """The domain of our Message-IDs: DEFAULT_FROM_EMAIL's, else SITE_URL's host."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1].lower()
    return urlparse(settings.SITE_URL).hostname or "bridgedesk.invalid"


def new_message_id() -> str:
    return make_msgid(domain=mail_domain())


def _ticket_digest(ticket) -> str:
    # From the ticket's secret, so a root id cannot be forged to thread into another ticket.
    return hashlib.sha256(f"{ticket.pk}:{ticket.secret}".encode()).hexdigest()[:16]


def thread_root(ticket) -> str:
    """The Message-ID of the acknowledgement, the first mail we send about a ticket; every
    later mail to the caller references it, so their client threads the conversation and
    their answers thread back even before any other id is known."""
    return f"<{ticket.reference}.{_ticket_digest(ticket)}@{mail_domain()}>"


_THREAD_ROOT = re.compile(r"^<([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,9})\.([0-9a-f]{16})@")


def parse_thread_root(message_id: str) -> tuple[str, int, str] | None:
    """(queue key, number, digest) of an id made by thread_root, else None."""
    match = _THREAD_ROOT.match(message_id)
    return (match.group(1), int(match.group(2)), match.group(3)) if match else None


def is_thread_root_of(ticket, digest: str) -> bool:
    return digest == _ticket_digest(ticket)


def thread_headers(ticket, *, exclude: str = "") -> dict[str, str]:
    """In-Reply-To and References for mail to the caller: the caller's first mail, our
    acknowledgement, then the latest public messages. Only public events count, so
    nothing about internal notes ever leaves in a header."""
    from helpdesk.models import TicketEvent

    events = (
        TicketEvent.objects.filter(ticket=ticket, public=True)
        .exclude(message_id="")
        .order_by("created_at", "id")
        .values_list("kind", "message_id")
    )
    ids = [mid for _, mid in events]
    root = thread_root(ticket)
    if events and events[0][0] == TicketEvent.Kind.CREATED:
        chain = [ids[0], root, *ids[1:]]
    else:
        chain = [root, *ids]
    chain = [mid for mid in dict.fromkeys(chain) if mid != exclude]
    if not chain:
        return {}
    if len(chain) > 10:
        chain = chain[:2] + chain[-8:]
    return {"In-Reply-To": chain[-1], "References": " ".join(chain)}


def ticket_email(
    *,
    ticket,
    to: list[str],
    body: str,
    message_id: str,
    automatic: str = "",
    from_name: str = "",
    thread: bool = True,
) -> EmailMessage:
    """A plain-text mail about `ticket`: subject "[SD-42] subject", its own Message-ID,
    Reply-To the queue's inbound address when it has one. `automatic` is the
    Auto-Submitted value (RFC 3834) for mail no person wrote; it and
    X-Auto-Response-Suppress keep auto-responders from answering us."""
    headers = {"Message-ID": message_id}
    if automatic:
        headers["Auto-Submitted"] = automatic
        headers["X-Auto-Response-Suppress"] = "All"
    if thread:
        headers.update(thread_headers(ticket, exclude=message_id))
    from_email = settings.DEFAULT_FROM_EMAIL
    if from_name:
        from_email = formataddr((" ".join(from_name.split())[:100], parseaddr(from_email)[1]))
    return EmailMessage(
        subject=f"[{ticket.reference}] {' '.join(ticket.subject.split())}",
        body=body,
        from_email=from_email,
        to=to,
        reply_to=[ticket.queue.inbound_address] if ticket.queue.inbound_address else None,
        headers=headers,
    )


# --- Text --------------------------------------------------------------------------------

_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv)\s*:\s*)*(?:fwd?|fw|wg|tr|rv|enc|doorst)\s*:", re.I
)
_FORWARD_TEXT = re.compile(
    r"^\s*-{2,}\s*forwarded message\s*-{2,}|^begin forwarded message:", re.I | re.M
)


def is_forward(subject: str, text: str) -> bool:
    """A forwarded message: its quoted part is the point of the mail, not history."""
    return bool(_FORWARD_SUBJECT.match(subject) or _FORWARD_TEXT.search(text))


_REPLY_HEADERS = (
    re.compile(r"^On\b.{0,300}\bwrote\s*:?$", re.I | re.S),
    re.compile(r"^Am\b.{0,300}\bschrieb\b.{0,200}:$", re.I | re.S),
    re.compile(r"^Le\b.{0,300}\ba écrit\s*:$", re.I | re.S),
    re.compile(r"^El\b.{0,300}\bescribió\s*:$", re.I | re.S),
    re.compile(r"^Op\b.{0,300}\bschreef\b.{0,200}:$", re.I | re.S),
    re.compile(r"^Dne\b.{0,300}\bnapsal\(a\)\s*:$", re.I | re.S),
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|původní zpráva)\s*-{2,}\s*$",
    re.I,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:from|von|de|od)\*?\s*:\s*\S", re.I)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|odesláno)\*?\s*:\s*\S", re.I
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_MOBILE_FOOTER = re.compile(r"^\s*(?:sent from my \S.*|get outlook for \S.*)$", re.I)


def _reply_header_at(lines: list[str], index: int) -> bool:
    """Whether "On <date>, <someone> wrote:" starts at line `index` (clients wrap it over
    up to three lines). A date or an address in it tells it from a sentence that happens
    to start with "On" and end with "wrote:"."""
    if not lines[index].strip():
        return False
    for span in range(1, 4):
        candidate = " ".join(line.strip() for line in lines[index : index + span])
        if any(pattern.match(candidate) for pattern in _REPLY_HEADERS):
            return bool(re.search(r"\d|@", candidate))
    return False


def _history_starts_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line.rstrip() in ("--", "-- "):  # the signature separator
        return True
    if _ORIGINAL_MESSAGE.match(line) or _reply_header_at(lines, index):
        return True
    if _OUTLOOK_FROM.match(line) or (_RULE.match(line) and index + 1 < len(lines)):
        following = lines[index + 1 : index + 5]
        if _RULE.match(line):
            return any(_OUTLOOK_FROM.match(next_line) for next_line in following[:2])
        return any(_OUTLOOK_SENT.match(next_line) for next_line in following)
    return False


def trim_quoted(text: str) -> str:
    """The new part of a reply: everything before the quoted history ("On … wrote:",
    Outlook's "-----Original Message-----" or From/Sent block), the signature ("-- ")
    and a trailing ">" quote. Returns `text` unchanged if trimming would leave nothing."""
    lines = text.split("\n")
    cut = next((i for i in range(len(lines)) if _history_starts_at(lines, i)), len(lines))
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    if kept and _MOBILE_FOOTER.match(kept[-1]):
        kept.pop()
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


# Structure we keep long enough to lay the text out; everything else is stripped by nh3,
# and these lose their text as well as their tags.
_LAYOUT_TAGS = {
    "a", "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "h1",
    "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
    "td", "th", "tr", "ul",
}  # fmt: skip
_DROPPED_WITH_CONTENT = {
    "script", "style", "title", "svg", "math", "template", "iframe", "object", "noscript",
}  # fmt: skip
_BLOCKS = _LAYOUT_TAGS - {"a", "br", "td", "th", "tr", "li", "blockquote", "pre"}


def html_to_text(html: str) -> str:
    """Safe plain text from an HTML mail body: nh3 (the sanitiser config/text.py uses)
    removes scripts, styles, SVG, event handlers and every link that is not http(s) or
    mailto; the layout left (paragraphs, line breaks, lists, quotes, links) becomes
    text. The result is stored as text and rendered only through config/text.py."""
    cleaned = nh3.clean(
        html,
        tags=_LAYOUT_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    parser = _TextLayout()
    parser.feed(cleaned)
    parser.close()
    return parser.text()


class _TextLayout(HTMLParser):
    """Lays sanitised HTML out as text: blocks on their own lines, <br> as a line break,
    list items with "- ", blockquotes with "> " (so quoted history trims like plain
    text), links as "text <url>"."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.pre = 0
        self.links: list[tuple[str, list[str]]] = []
        self.blank_pending = False
        self.last_depth = 0

    def _line(self) -> str:
        return "".join(self.current)

    def _end_line(self) -> None:
        text = self._line()
        text = text.rstrip() if self.pre else " ".join(text.split())
        prefix = "> " * self.quote
        if text and self.blank_pending and self.lines:
            # A blank line inside a quote only if both neighbours are in it.
            self.lines.append(("> " * min(self.quote, self.last_depth)).rstrip())
        if text:
            self.blank_pending = False
            self.last_depth = self.quote
        self.lines.append(prefix + text if text else prefix.rstrip())
        self.current = []

    def _block(self) -> None:
        """End the current line; the next text starts after one blank line."""
        if self._line().strip():
            self._end_line()
        self.current = []
        self.blank_pending = True

    def _write(self, text: str) -> None:
        self.current.append(text)
        for _, parts in self.links:
            parts.append(text)

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self._end_line()
        elif tag == "blockquote":
            self._block()
            self.quote += 1
        elif tag == "li":
            if self._line().strip():
                self._end_line()
            self.current.append("- ")
        elif tag == "tr":
            if self._line().strip():
                self._end_line()
        elif tag in ("td", "th"):
            if self._line().strip():
                self.current.append("  ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", []))
        elif tag == "pre":
            self._block()
            self.pre += 1
        elif tag in _BLOCKS:
            self._block()

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "blockquote":
            self._block()
            self.quote = max(0, self.quote - 1)
        elif tag == "a" and self.links:
            href, parts = self.links.pop()
            label = " ".join("".join(parts).split())
            if href and href not in (label, f"mailto:{label}"):
                self.current.append(f" <{href}>")
        elif tag == "pre":
            self._block()
            self.pre = max(0, self.pre - 1)
        elif tag in ("li", "tr"):
            if self._line().strip():
                self._end_line()
        elif tag in _BLOCKS:
            self._block()

    def handle_data(self, data):
        if self.pre:
            chunks = data.split("\n")
            for i, chunk in enumerate(chunks):
                if i:
                    self._end_line()
                self._write(chunk)
            return
        data = re.sub(r"\s+", " ", data)
        if not self._line().strip():
            data = data.lstrip()
        if data:
            self._write(data)

    def text(self) -> str:
        if self._line().strip():
            self._end_line()
        out: list[str] = []
        for line in self.lines:
            if not line.strip("> ") and (not out or not out[-1].strip("> ")):
                continue  # one blank line between blocks is enough
            out.append(line)
        while out and not out[-1].strip("> "):
            out.pop()
        return "\n".join(out)
