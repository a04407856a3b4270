"""Factories for business calendars and SLA policies, and the office they usually model."""

from datetime import time

import factory

from config.models import BusinessCalendar, BusinessHours, Holiday
from helpdesk.models import SLAPolicy, SLATarget


class BusinessCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "Europe/Berlin"


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessHours

    calendar = factory.SubFactory(BusinessCalendarFactory)
    weekday = 0
    start = time(9)
    end = time(17)


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(BusinessCalendarFactory)
    name = "Holiday"


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    calendar = factory.SubFactory(BusinessCalendarFactory)
    warn_before_minutes = 60


class SLATargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLATarget

    policy = factory.SubFactory(SLAPolicyFactory)
    priority = "P3"
    first_response_minutes = 60
    resolution_minutes = 8 * 60


def office_calendar(time_zone="Europe/Berlin", holidays=(), **kwargs) -> BusinessCalendar:
    """Monday to Friday, 09:00–17:00 local, with the given holiday dates."""
    calendar = BusinessCalendarFactory(time_zone=time_zone, **kwargs)
    BusinessHours.objects.bulk_create(
        BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in range(5)
    )
    Holiday.objects.bulk_create(
        Holiday(calendar=calendar, date=day, name="Holiday") for day in holidays
    )
    return calendar


def office_policy(calendar=None, targets=None, **kwargs) -> SLAPolicy:
    """A policy on the office calendar; `targets` maps priority → (first response,
    resolution) in business minutes. By default P1 (30, 240) and P3 (60, 480); no P4."""
    policy = SLAPolicyFactory(calendar=calendar or office_calendar(), **kwargs)
    targets = targets if targets is not None else {"P1": (30, 240), "P3": (60, 480)}
    for priority, (first_response, resolution) in targets.items():
        SLATargetFactory(
            policy=policy,
            priority=priority,
            first_response_minutes=first_response,
            resolution_minutes=resolution,
        )
    return policy
