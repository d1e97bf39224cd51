"""Deadline colours (正常 / 黄灯 / 红灯).

Both thresholds are dates fixed at acceptance — the committed deadline (红灯 after it) and
`warning_on`, the working day on which the configured share of the committed limit (80%) has
been used (黄灯 from it) — so a queue of any size is coloured and filtered in the database
without walking the calendar per case.
"""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum

from django.conf import settings
from django.db.models import Q, QuerySet

from tongban.core.calendar import Calendar

from .models import Case, CaseStatus

CLOCK_STOPPED = {CaseStatus.APPROVED, CaseStatus.DENIED, CaseStatus.COMPLETED, CaseStatus.REJECTED}


class DeadlineColour(StrEnum):
    NONE = "none"  # not accepted yet, or the clock has stopped
    NORMAL = "normal"
    YELLOW = "yellow"
    RED = "red"


def warning_date(calendar: Calendar, accepted_on: date, limit_days: int) -> date:
    """The day from which a case is yellow: ⌈ratio × limit⌉ working days after acceptance."""
    used = math.ceil(float(settings.TONGBAN["DEADLINE_YELLOW_RATIO"]) * limit_days)
    return calendar.add_working_days(accepted_on, used).day


def deadline_colour(case: Case, today: date) -> DeadlineColour:
    if case.committed_deadline is None or case.warning_on is None or case.status in CLOCK_STOPPED:
        return DeadlineColour.NONE
    if today > case.committed_deadline:
        return DeadlineColour.RED
    if today >= case.warning_on:
        return DeadlineColour.YELLOW
    return DeadlineColour.NORMAL


def filter_by_colour(cases: QuerySet[Case], colour: str, today: date) -> QuerySet[Case]:
    """The same rule as deadline_colour, as a database filter."""
    running = cases.exclude(status__in=CLOCK_STOPPED).filter(committed_deadline__isnull=False)
    if colour == DeadlineColour.RED:
        return running.filter(committed_deadline__lt=today)
    if colour == DeadlineColour.YELLOW:
        return running.filter(committed_deadline__gte=today, warning_on__lte=today)
    if colour == DeadlineColour.NORMAL:
        return running.filter(warning_on__gt=today)
    if colour == DeadlineColour.NONE:
        return cases.filter(Q(status__in=CLOCK_STOPPED) | Q(committed_deadline__isnull=True))
    return cases
