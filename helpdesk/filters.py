"""Filters of the help desk API lists (django-filter).

A value that cannot be read (`status=nope`, `queue=abc`, `assignee=someone`) is answered
400 naming the parameter; a well-formed value that matches nothing answers an empty list,
so a filter never tells a caller whether an object they cannot see exists.
"""

import django_filters
from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.utils.text import slugify

from config.filters import PERSON, IdFilter
from helpdesk.models import Ticket


class TicketFilter(django_filters.FilterSet):
    queue = IdFilter(field_name="queue", help_text="Queue id.")
    queue_slug = django_filters.CharFilter(
        field_name="queue__slug", max_length=50, help_text="Queue slug, as in /submit/<slug>/."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Ticket.Status.choices,
        distinct=False,
        help_text="Repeat to match any of several statuses.",
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=Ticket.Priority.choices,
        distinct=False,
        help_text="Repeat to match any of several priorities.",
    )
    type = django_filters.MultipleChoiceFilter(
        choices=Ticket.Type.choices,
        distinct=False,
        help_text="Repeat to match any of several types.",
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        max_length=20,
        validators=[PERSON],
        help_text="A user id, `me` (the caller) or `none` (unassigned).",
    )
    project = IdFilter(field_name="project", help_text="Project id.")
    milestone = IdFilter(field_name="milestone", help_text="Milestone id.")
    tag = django_filters.CharFilter(
        method="filter_tag", max_length=100, help_text="Tag name, e.g. `vpn`."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=500,
        help_text="Full-text search over subject, description, replies and notes; "
        'web-search syntax: `printer -toner "paper jam" or scanner`.',
    )

    class Meta:
        model = Ticket
        fields = []

    def filter_assignee(self, queryset, name, value: str):
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value))

    def filter_tag(self, queryset, name, value: str):
        # Tags are stored slugified ("VPN issue" → "vpn-issue"); read the filter the same way.
        # A ticket carries a tag at most once, so the join cannot repeat a row.
        return queryset.tagged(slugify(value, allow_unicode=True)[:50])

    def filter_search(self, queryset, name, value: str):
        # websearch_to_tsquery accepts any text without a syntax error; the stored
        # search_vector is kept current by the services and served by its GIN index.
        query = SearchQuery(value, config=settings.SEARCH_CONFIG, search_type="websearch")
        return queryset.filter(search_vector=query)
