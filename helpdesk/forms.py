"""Forms of the help desk. The callers' forms (no account) are named `Caller…`."""

from django import forms
from django.core.exceptions import ValidationError

from helpdesk.attachments import check_attachment, clean_filename, max_attachment_bytes
from helpdesk.services import NewFile

MAX_FILES = 10
# The name of the honeypot field: robots fill in anything that looks like a web address.
HONEYPOT_FIELD = "website"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files (none included) → a list of `NewFile`, each checked by content
    and size, every problem reported at once by name."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attachments")
        super().__init__(**kwargs)
        self.help_text = (
            f"Screenshots, PDFs, documents or text; up to {MAX_FILES} files of at "
            f"most {max_attachment_bytes() // 1024 // 1024} MB each."
        )

    def clean(self, data, initial=None):
        uploads = [
            upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload
        ]
        if len(uploads) > MAX_FILES:
            raise ValidationError(f"Attach at most {MAX_FILES} files at a time.")
        files, errors = [], []
        for upload in uploads:
            name = clean_filename(upload.name or "")
            if upload.size > max_attachment_bytes():
                # Refused by its announced size, before reading it into memory.
                errors.append(
                    f"“{name}” is {upload.size // 1024 // 1024 or 1} MB; files may be at most "
                    f"{max_attachment_bytes() // 1024 // 1024} MB."
                )
                continue
            content = upload.read()
            try:
                check_attachment(filename=name, content=content)
            except ValidationError as exc:
                errors.extend(exc.messages)
                continue
            files.append(NewFile(filename=name, content=content))
        if errors:
            raise ValidationError(errors)
        return files


class CallerTicketForm(forms.Form):
    """The public form `/submit/<queue>/`: a caller opens a ticket."""

    name = forms.CharField(
        label="Your name", max_length=200, help_text="How we should address you."
    )
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        help_text="We send your private link and our answers here.",
    )
    subject = forms.CharField(label="Subject", max_length=255, help_text="In a few words.")
    description = forms.CharField(
        label="Description",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, what you expected, and what you have tried.",
    )
    attachments = AttachmentsField()
    # Hidden from people and screen readers by the template; a robot fills it in.
    website = forms.CharField(label="Leave this field empty", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.fields["website"].widget.attrs.update(autocomplete="off", tabindex="-1")


class CallerReplyForm(forms.Form):
    """The caller writes back on their ticket page."""

    body = forms.CharField(
        label="Your reply",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = AttachmentsField()

    def clean(self):
        cleaned = super().clean()
        if (
            not self.errors
            and not cleaned.get("body", "").strip()
            and not cleaned.get("attachments")
        ):
            self.add_error("body", "Write something, or attach a file.")
        return cleaned


SCORE_CHOICES = [
    (1, "Very poor"),
    (2, "Poor"),
    (3, "OK"),
    (4, "Good"),
    (5, "Excellent"),
]


class CallerRatingForm(forms.Form):
    """The caller rates a resolved ticket: 1–5 and an optional comment."""

    score = forms.TypedChoiceField(
        label="How well did we handle your request?",
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a score from 1 to 5."},
    )
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What went well, what could be better?",
    )
