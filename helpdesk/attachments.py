"""Files that arrive with tickets: checked by their content, never by their name, stored
under MEDIA_ROOT (outside the web root) and served only through a ticket's access check."""

import hashlib
import mimetypes
from pathlib import PurePath

import puremagic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from helpdesk.models import Attachment

# What callers and agents may attach, by the type the bytes say they are. No HTML, SVG
# or scripts: a browser would run them.
ALLOWED_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "message/rfc822",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/pgp-signature",
}
_OFFICE_ZIP_EXTENSIONS = {".docx", ".xlsx", ".pptx", ".odt", ".ods"}


def max_attachment_bytes() -> int:
    return settings.ATTACHMENT_MAX_BYTES


def detect_content_type(content: bytes, filename: str) -> str:
    """The type the bytes are. Office files are zip archives, so for those the name
    picks among the zip-based types; text is text when it decodes and has no NULs."""
    try:
        matches = puremagic.magic_string(content[:8192])
    except (puremagic.PureError, ValueError):
        matches = []
    mime = next((m.mime_type for m in matches if m.mime_type), "")
    suffix = PurePath(filename).suffix.lower()
    if mime in {"application/zip", "application/x-zip-compressed"} or (
        not mime and content[:2] == b"PK"
    ):
        if suffix in _OFFICE_ZIP_EXTENSIONS:
            return mimetypes.guess_type(filename)[0] or "application/zip"
        return "application/zip"
    if mime:
        return mime
    if b"\x00" not in content[:8192]:
        try:
            content[:8192].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        if suffix == ".csv":
            return "text/csv"
        if suffix == ".asc" or content.lstrip().startswith(b"-----BEGIN PGP SIGNATURE"):
            return "application/pgp-signature"
        if suffix == ".eml" or content.startswith((b"Received:", b"Return-Path:", b"From:")):
            return "message/rfc822"
        return "text/plain"
    return "application/octet-stream"


def check_attachment(*, filename: str, content: bytes) -> str:
    """The content type of an acceptable file; ValidationError naming the problem otherwise."""
    limit = max_attachment_bytes()
    if len(content) > limit:
        raise ValidationError(
            f"“{filename}” is {len(content) // 1024 // 1024 or 1} MB; files may be at most "
            f"{limit // 1024 // 1024} MB."
        )
    if not content:
        raise ValidationError(f"“{filename}” is empty.")
    content_type = detect_content_type(content, filename)
    if content_type not in ALLOWED_TYPES:
        raise ValidationError(
            f"“{filename}” is a kind of file we do not accept ({content_type}). "
            "Send documents, images, PDFs or text."
        )
    return content_type


def clean_filename(filename: str) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = PurePath(filename.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "attachment"
    return name[-200:]


def attachment_create(*, ticket, event=None, filename: str, content: bytes) -> Attachment:
    """Check and store one file for `ticket` (and the event it came with)."""
    filename = clean_filename(filename)
    content_type = check_attachment(filename=filename, content=content)
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        ticket=ticket,
        event=event,
        filename=filename,
        content_type=content_type,
        size=len(content),
        sha256=digest,
    )
    # The stored name is the digest, so nothing the sender chose reaches the file system.
    attachment.file.save(
        f"{digest}{PurePath(filename).suffix.lower()[:10]}", ContentFile(content), save=False
    )
    attachment.save()
    return attachment
