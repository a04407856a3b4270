"""Forms of the agents' pages. Each carries the ticket version the agent saw."""

from django import forms
from django.contrib.auth import get_user_model

from config.widgets import PythonRenderedSelect
from helpdesk.models import Queue, Ticket


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ReplyForm(VersionedForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "Write a reply…"}),
        required=False,
        max_length=100_000,
    )
    public = forms.TypedChoiceField(
        choices=[("1", "Public reply"), ("0", "Internal note")],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )
    attachments = forms.FileField(required=False)


class TicketEditForm(VersionedForm):
    status = forms.ChoiceField(choices=Ticket.Status.choices, widget=PythonRenderedSelect)
    priority = forms.ChoiceField(choices=Ticket.Priority.choices, widget=PythonRenderedSelect)
    type = forms.ChoiceField(choices=Ticket.Type.choices, widget=PythonRenderedSelect)
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Unassigned",
        widget=PythonRenderedSelect,
    )
    tags = forms.CharField(
        required=False,
        max_length=500,
        help_text="Comma-separated, e.g. vpn, laptop",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    keep_requester_informed = forms.BooleanField(
        required=False,
        label="Keep the caller informed",
        help_text="E-mail the caller when the linked project's plan changes.",
    )

    def __init__(self, *args, ticket: Ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ticket.queue.members.order_by(
            "first_name", "last_name", "username"
        )
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username

    def clean_tags(self):
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]


class SnoozeForm(forms.Form):
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    # Or until one of the linked project's open milestones completes (the liaison wakes it).
    milestone = forms.IntegerField(required=False, widget=forms.Select, label="Or until milestone")
    wake = forms.BooleanField(required=False)


class MergeForm(forms.Form):
    target = forms.CharField(
        max_length=30, label="Merge into", help_text="The other ticket's reference, e.g. SD-42"
    )


class LinkForm(forms.Form):
    project = forms.CharField(max_length=10, required=False, label="Project key")
    milestone = forms.IntegerField(required=False, widget=forms.Select)


class CallForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What was said on the phone…"}),
        max_length=20_000,
        label="Call summary",
    )


class NewTicketForm(forms.Form):
    """A ticket an agent logs for a caller, typically while on the phone with them."""

    queue = forms.ModelChoiceField(queryset=Queue.objects.none(), empty_label=None)
    requester_email = forms.EmailField(label="Caller's e-mail address")
    requester_name = forms.CharField(label="Caller's name", max_length=200, required=False)
    subject = forms.CharField(max_length=255)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), required=False, max_length=100_000
    )
    source = forms.ChoiceField(
        choices=[(Ticket.Source.PHONE, "Phone call"), (Ticket.Source.EMAIL, "E-mail"),
                 (Ticket.Source.WEB, "In person / other")],
        initial=Ticket.Source.PHONE,
    )  # fmt: skip
    priority = forms.ChoiceField(choices=Ticket.Priority.choices, initial=Ticket.Priority.P3)
    type = forms.ChoiceField(choices=Ticket.Type.choices)
    assign_to_me = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].queryset = Queue.objects.visible_to(user)
