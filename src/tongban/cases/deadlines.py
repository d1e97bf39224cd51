"""Deadline colours (正常 / 黄灯 / 红灯) from working days used against the committed limit."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from django.conf import settings

from tongban.core.calendar import Calendar, LazyCalendar

from .models import Case, CaseStatus

CLOCK_STOPPED = {CaseStatus.APPROVED, CaseStatus.DENIED, CaseStatus.COMPLETED, CaseStatus.REJECTED}


class DeadlineColour(StrEnum):
    NONE = "none"  # not accepted yet, or the clock has stopped
    NORMAL = "normal"
    YELLOW = "yellow"
    RED = "red"


COLOUR_LABELS = {
    DeadlineColour.NONE: "—",
    DeadlineColour.NORMAL: "正常",
    DeadlineColour.YELLOW: "临近期限",
    DeadlineColour.RED: "已超期",
}


def deadline_colour(case: Case, calendar: Calendar | LazyCalendar, today: date) -> DeadlineColour:
    if case.accepted_on is None or case.committed_deadline is None or case.status in CLOCK_STOPPED:
        return DeadlineColour.NONE
    if isinstance(calendar, LazyCalendar):
        calendar = calendar.get()
    if today > case.committed_deadline:
        return DeadlineColour.RED
    limit = case.item_version.committed_limit_days
    used = calendar.working_days_between(case.accepted_on, today)
    if limit == 0 or used >= float(settings.TONGBAN["DEADLINE_YELLOW_RATIO"]) * limit:
        return DeadlineColour.YELLOW
    return DeadlineColour.NORMAL
