"""Forms of the project pages. They validate what people type; the views write through
projects.services, so a form never saves a model itself."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxLengthValidator
from django.db.models import Q

from config.roles import AGENTS, PROJECT_MANAGERS, STAKEHOLDERS
from projects.models import Milestone, Project, Risk

User = get_user_model()

PROBABILITY_CHOICES = [
    (1, "1 · Rare"),
    (2, "2 · Unlikely"),
    (3, "3 · Possible"),
    (4, "4 · Likely"),
    (5, "5 · Almost certain"),
]
IMPACT_CHOICES = [
    (1, "1 · Minor"),
    (2, "2 · Moderate"),
    (3, "3 · Serious"),
    (4, "4 · Major"),
    (5, "5 · Severe"),
]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def limit_length(field: forms.Field, limit: int) -> None:
    """Cap a model TextField's form field, which has no max_length of its own."""
    field.max_length = limit
    field.validators.append(MaxLengthValidator(limit))


def person_label(user) -> str:
    return user.get_full_name() or user.get_username()


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


def people_with_roles(*roles):
    """Active users holding any of `roles` (superusers count as every role)."""
    return (
        User.objects.filter(Q(groups__name__in=roles) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class ProjectForm(forms.ModelForm):
    """Create (all fields) or edit (without key, slug and owner, which name the project
    in URLs and are fixed once it exists). Health is not here: it follows the latest
    status update, so every change of health comes with a word of why."""

    owner = PersonChoiceField(queryset=User.objects.none(), help_text="The project manager.")
    liaison = PersonChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="None yet",
        help_text="The agent who speaks for this project in the help desk.",
    )
    members = PeopleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The project team: they plan and work the board.",
    )
    stakeholders = PeopleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="They read the status page when its visibility is “Stakeholders”.",
    )

    class Meta:
        model = Project
        fields = [
            "name", "key", "slug", "owner", "status", "start_date", "target_date",
            "liaison", "visibility", "calendar", "description", "keywords", "members",
            "stakeholders",
        ]  # fmt: skip
        widgets = {
            "start_date": DateInput(),
            "target_date": DateInput(),
            "description": forms.Textarea(attrs={"rows": 5}),
            "key": forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
        }
        help_texts = {
            "key": "2–10 capital letters or digits, e.g. VPN. Fixed once created.",
            "slug": "The status page address, e.g. vpn-replacement. Fixed once created.",
            "description": "Markdown. Shown on the project page.",
            "calendar": "Working days for forecasts; none means Monday to Friday.",
        }

    def __init__(self, *args, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not creating:
            for name in ("key", "slug", "owner"):
                del self.fields[name]
        else:
            self.fields["owner"].queryset = people_with_roles(PROJECT_MANAGERS)
        self.fields["liaison"].queryset = people_with_roles(AGENTS)
        self.fields["members"].queryset = people_with_roles(AGENTS, PROJECT_MANAGERS)
        self.fields["stakeholders"].queryset = people_with_roles(STAKEHOLDERS)
        self.fields["calendar"].empty_label = "Monday to Friday"
        limit_length(self.fields["description"], 50_000)

    def clean_key(self):
        return self.cleaned_data["key"].strip().upper()

    def clean(self):
        data = super().clean()
        start, target = data.get("start_date"), data.get("target_date")
        if start and target and target < start:
            # Said here in words; the database constraint would name itself instead.
            self.add_error("target_date", "The target date cannot be before the start date.")
        return data


class MilestoneForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Milestone.Kind.choices, initial=Milestone.Kind.REGULAR)
    target_date = forms.DateField(
        widget=DateInput(), help_text="Also its baseline: the first commitment, kept for good."
    )


class RescheduleForm(forms.Form):
    target_date = forms.DateField(widget=DateInput(), label="New target date")
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. The help desk reads this when callers ask why.",
    )

    def __init__(self, *args, milestone: Milestone, **kwargs):
        super().__init__(*args, **kwargs)
        self.milestone = milestone

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the date moves.")
        return reason

    def clean_target_date(self):
        target = self.cleaned_data["target_date"]
        if target == self.milestone.target_date:
            raise forms.ValidationError("That is already its target date.")
        return target


class RiskForm(forms.ModelForm):
    owner = PersonChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")
    probability = forms.TypedChoiceField(choices=PROBABILITY_CHOICES, coerce=int, initial=3)
    impact = forms.TypedChoiceField(choices=IMPACT_CHOICES, coerce=int, initial=3)

    class Meta:
        model = Risk
        fields = [
            "title", "probability", "impact", "owner", "review_date", "status",
            "description", "mitigation",
        ]  # fmt: skip
        widgets = {
            "review_date": DateInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "mitigation": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"mitigation": "What we do to make it less likely or less bad. Markdown."}

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people_with_roles(AGENTS, PROJECT_MANAGERS)
        if creating:
            del self.fields["status"]
        for name in ("description", "mitigation"):
            limit_length(self.fields[name], 20_000)


class StatusUpdateForm(forms.Form):
    health = forms.ChoiceField(choices=Project.Health.choices, widget=forms.RadioSelect)
    summary = forms.CharField(
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 7}),
        help_text="Markdown. What happened, what comes next, what is in the way. "
        "Published updates cannot be changed; a correction is a new update.",
    )

    def clean_summary(self):
        summary = self.cleaned_data["summary"].strip()
        if not summary:
            raise forms.ValidationError("Write what happened and what comes next.")
        return summary


class LessonForm(forms.Form):
    text = forms.CharField(
        label="Lesson",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Markdown. What to repeat, or to do differently next time.",
    )

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write the lesson.")
        return text


class ProjectFilterForm(forms.Form):
    """The project list's filters; unknown values are ignored, never an error page."""

    STATUS_CHOICES = [
        ("", "Current"),
        *Project.Status.choices,
        ("archived", "Archived"),
        ("all", "All, archived too"),
    ]
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    health = forms.ChoiceField(
        choices=[("", "Any health"), *Project.Health.choices], required=False
    )
    mine = forms.BooleanField(required=False, label="Only mine")

    def values(self) -> dict:
        if self.is_valid():
            return self.cleaned_data
        return {
            name: self.cleaned_data.get(name, field.initial or "")
            for name, field in self.fields.items()
        }
