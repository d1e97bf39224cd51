"""Celery tasks of the kernel: delivery of domain events (ADR 0019)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tongban.core.tasks.events_deliver", ignore_result=True)
def events_deliver(event_id: str) -> int:
    """Run the handlers of one event now (queued after the publishing transaction commits)."""
    from .events import event_deliver

    return event_deliver(event_id=event_id)


@shared_task(name="tongban.core.tasks.events_deliver_due", ignore_result=True)
def events_deliver_due() -> int:
    """Retry every event delivery whose next attempt is due (periodic: a delivery lost to a
    crash between commit and handler, or one that failed, runs again)."""
    from .events import deliveries_due

    return deliveries_due()


@shared_task(name="tongban.core.tasks.events_prune", ignore_result=True)
def events_prune() -> int:
    """Delete delivered events past their retention (daily)."""
    from .events import events_prune as prune

    return prune()
