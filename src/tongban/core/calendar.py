"""Working-day calendar (工作日) for legal and committed time limits.

Rules (行政许可法 第82条, 民法典 第201–203条): limits count working days; the start day is not
counted; a working day is Monday–Friday unless the Holiday table says it is a holiday, and a
weekend day is a working day when the table marks it as 调休上班. A year without an official
schedule falls back to the weekend rule, and every answer for such a year says so (`estimated`)
so that screens can warn instead of silently guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .models import CalendarYear, Holiday, HolidayKind


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    official_years: frozenset[int]

    @classmethod
    def load(cls) -> Calendar:
        """Two small queries; the table holds about 40 rows a year."""
        holidays: set[date] = set()
        makeups: set[date] = set()
        for day, kind in Holiday.objects.values_list("date", "kind"):
            (holidays if kind == HolidayKind.HOLIDAY else makeups).add(day)
        years = frozenset(
            CalendarYear.objects.filter(is_official=True).values_list("year", flat=True)
        )
        return cls(frozenset(holidays), frozenset(makeups), years)

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5

    def is_official(self, year: int) -> bool:
        return year in self.official_years

    def add_working_days(self, start: date, days: int) -> WorkingDate:
        """The date on which `days` working days after `start` (excluded) have passed."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        counted = 0
        estimated = not self.is_official(start.year)
        while counted < days:
            current += timedelta(days=1)
            estimated = estimated or not self.is_official(current.year)
            if self.is_workday(current):
                counted += 1
        return WorkingDate(current, estimated)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current):
                count += 1
        return count


@dataclass(frozen=True)
class WorkingDate:
    day: date
    estimated: bool  # True when a year on the way has no official schedule


def missing_official_years(*years: int) -> list[int]:
    """Years among `years` with no official holiday schedule entered (for admin warnings)."""
    official = set(
        CalendarYear.objects.filter(is_official=True, year__in=years).values_list("year", flat=True)
    )
    return [year for year in years if year not in official]
