"""Filters of the bridge's API lists (django-filter).

As elsewhere: a value that cannot be read (`queue=abc`) is a 400 naming the parameter; a
well-formed value that matches nothing answers an empty list.
"""

import django_filters

from config.filters import IdFilter
from liaison.models import Bulletin, HandoverPlan
from projects.filters import YesNoFilter


class BulletinFilter(django_filters.FilterSet):
    queue = IdFilter(field_name="queue", help_text="Queue id.")
    project = IdFilter(field_name="project", help_text="Project id.")
    active = YesNoFilter(
        field_name="active",
        help_text="`true`: bulletins agents see now; `false`: those of finished projects.",
    )

    class Meta:
        model = Bulletin
        fields = []


class HandoverFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project", help_text="Project id.")

    class Meta:
        model = HandoverPlan
        fields = []
