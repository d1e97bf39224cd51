"""Celery tasks of the kernel: delivery of hand-off messages to peers and of domain events."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tongban.core.tasks.outbox_deliver", ignore_result=True)
def outbox_deliver(message_id: str) -> bool:
    """Deliver one message now (queued after the sending transaction commits)."""
    from .interchange import message_deliver

    return message_deliver(message_id=message_id)


@shared_task(name="tongban.core.tasks.outbox_deliver_due", ignore_result=True)
def outbox_deliver_due() -> int:
    """Retry every message whose next attempt is due (periodic: a lost message is resent)."""
    from .interchange import outbox_deliver_due as deliver_due

    return deliver_due()


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
