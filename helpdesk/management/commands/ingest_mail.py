"""`manage.py ingest_mail`: bring e-mail into the help desk from files or IMAP.

    manage.py ingest_mail message.eml other.eml   one message per file
    manage.py ingest_mail maildir/                every *.eml in the directory
    manage.py ingest_mail archive.mbox            every message of an mbox file
    manage.py ingest_mail --imap                  unseen mail from IMAP_HOST, once
    manage.py ingest_mail --pending [--failed]    process stored messages again

Each message is stored as an InboundMessage first, then processed; running the same
files twice makes no second ticket (messages are recognised by Message-ID).
"""

import imaplib
import mailbox
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from helpdesk.inbound import imap_fetch, inbound_ingest, inbound_process
from helpdesk.models import InboundMessage


def _is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


class Command(BaseCommand):
    help = "Ingest e-mail from .eml files, directories of them, mbox files or IMAP."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help=".eml files, directories, mbox files")
        parser.add_argument("--mbox", action="store_true", help="treat every file as mbox")
        parser.add_argument("--imap", action="store_true", help="fetch unseen mail from IMAP")
        parser.add_argument(
            "--recipient", default="", help="the address the mail was sent to, for routing"
        )
        parser.add_argument(
            "--pending", action="store_true", help="process stored messages still pending"
        )
        parser.add_argument(
            "--failed", action="store_true", help="retry stored messages that failed"
        )

    def handle(self, *args, **options):
        paths = options["paths"]
        if not (paths or options["imap"] or options["pending"] or options["failed"]):
            raise CommandError("Name files or directories, or use --imap, --pending, --failed.")
        results: list[InboundMessage] = []
        for raw, label in self._files(paths, force_mbox=options["mbox"]):
            message = inbound_ingest(
                raw=raw, source=InboundMessage.Source.FILE, recipient=options["recipient"]
            )
            results.append(self._report(message, label))
        if options["imap"]:
            if not settings.IMAP_HOST:
                raise CommandError("IMAP_HOST is not set.")
            try:
                fetched = imap_fetch()
            except (imaplib.IMAP4.error, OSError) as exc:
                raise CommandError(f"IMAP: {exc}") from exc
            results += [self._report(message, f"IMAP #{message.pk}") for message in fetched]
        statuses = [InboundMessage.Status.PENDING] * options["pending"]
        statuses += [InboundMessage.Status.FAILED] * options["failed"]
        if statuses:
            for message in InboundMessage.objects.filter(status__in=statuses).order_by("pk"):
                results.append(self._report(inbound_process(message=message), f"#{message.pk}"))
        counts = Counter(message.status for message in results)
        summary = ", ".join(f"{counts[status]} {status}" for status in sorted(counts)) or "none"
        self.stdout.write(f"{len(results)} messages: {summary}.")

    def _files(self, paths: list[str], *, force_mbox: bool):
        for name in paths:
            path = Path(name)
            if path.is_dir():
                files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml")
                if not files:
                    self.stderr.write(f"{path}: no .eml files")
                for file in files:
                    yield file.read_bytes(), str(file)
            elif path.is_file():
                if force_mbox or _is_mbox(path):
                    box = mailbox.mbox(path, create=False)
                    try:
                        for key in box.iterkeys():
                            yield box.get_bytes(key), f"{path} #{key + 1}"
                    finally:
                        box.close()
                else:
                    yield path.read_bytes(), str(path)
            else:
                raise CommandError(f"{path}: no such file or directory")

    def _report(self, message: InboundMessage, label: str) -> InboundMessage:
        line = f"{label}: {message.status}"
        if message.ticket_id:
            line += f" (ticket {message.ticket.reference})"
        if message.status == InboundMessage.Status.FAILED:
            self.stderr.write(f"{line}: {message.error.splitlines()[0] if message.error else ''}")
        else:
            self.stdout.write(f"{line}{': ' + message.error if message.error else ''}")
        return message
