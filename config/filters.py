"""API filter pieces shared by every app's lists (django-filter)."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django_filters.rest_framework import DjangoFilterBackend
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


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, not built for a request that names none of the view's
    filters: a FilterSet deep-copies every filter and builds a form on each request, about
    a millisecond on the ticket list, which scripts poll without parameters. Such a
    FilterSet would filter nothing anyway (an absent value never filters)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
