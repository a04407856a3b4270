"""API filter pieces shared by every app's lists (django-filter)."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

# Ids are PostgreSQL bigints at most; anything larger cannot match and is refused outright.
MAX_ID = 2**63 - 1

# A person filter: a user id, "me" (the caller) or "none" (nobody).
PERSON = RegexValidator(r"^(me|none|[1-9][0-9]{0,17})$", "Give a user id, “me” or “none”.")


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    """An object id: a positive integer."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
