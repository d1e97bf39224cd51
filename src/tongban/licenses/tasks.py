"""Periodic tasks of the licences app (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from tongban.core import clock

from .selectors import licenses_expired_due
from .services import license_expire


@shared_task(name="tongban.licenses.expire_due")
def licenses_expire_due() -> int:
    """Mark every licence whose validity ended as expired (one transaction and one log event
    each); returns how many changed. Run daily shortly after midnight."""
    due = list(licenses_expired_due(today=clock.today()).values_list("pk", flat=True)[:10_000])
    return sum(1 for license_id in due if license_expire(license_id=license_id))
