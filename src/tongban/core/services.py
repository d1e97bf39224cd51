"""Writes of the kernel: seeding divisions and the holiday calendar."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from importlib import resources

import chinese_calendar
from django.db import transaction

from .models import CalendarYear, Division, Holiday, HolidayKind


@transaction.atomic
def divisions_load(*, rows: list[dict[str, str]] | None = None) -> int:
    """Load GB/T 2260 divisions (seed CSV shipped in the package unless rows are given)."""
    if rows is None:
        text = resources.files("tongban.core").joinpath("seed/divisions.csv").read_text("utf-8")
        rows = list(csv.DictReader(text.splitlines()))
    existing = set(Division.objects.values_list("code", flat=True))
    new = [
        Division(
            code=row["code"], name=row["name"], level=row["level"], parent_id=row["parent"] or None
        )
        for row in sorted(rows, key=lambda row: (len(row["parent"] or ""), row["code"]))
        if row["code"] not in existing
    ]
    # Parents sort before children (shorter codes first), so one pass keeps FKs valid.
    Division.objects.bulk_create(new, batch_size=1000)
    return len(new)


@transaction.atomic
def calendar_seed_year(*, year: int) -> int:
    """Seed one year's holidays and 调休 workdays from chinese_calendar.

    Returns the number of days entered. A year chinese_calendar has no data for is recorded
    as not official (the weekend rule applies, and administrators are warned).
    """
    start = date(year, 1, 1)
    days: list[Holiday] = []
    try:
        for offset in range((date(year + 1, 1, 1) - start).days):
            day = start + timedelta(days=offset)
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            is_weekend = day.weekday() >= 5
            if is_holiday and not is_weekend:
                days.append(Holiday(date=day, kind=HolidayKind.HOLIDAY, name=_holiday_name(name)))
            elif not is_holiday and is_weekend:
                days.append(
                    Holiday(date=day, kind=HolidayKind.MAKEUP_WORKDAY, name=_holiday_name(name))
                )
    except NotImplementedError:
        CalendarYear.objects.get_or_create(year=year, defaults={"is_official": False})
        return 0
    Holiday.objects.filter(date__year=year).delete()
    Holiday.objects.bulk_create(days)
    CalendarYear.objects.update_or_create(
        year=year,
        defaults={
            "is_official": True,
            "source": f"chinese_calendar {chinese_calendar.__version__}",
        },
    )
    return len(days)


_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def _holiday_name(name: object) -> str:
    if name is None:
        return ""
    english = getattr(name, "value", str(name))
    return _NAMES.get(str(english), str(english))[:32]
