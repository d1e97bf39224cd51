"""Celery tasks of the interchange: delivery of signed messages to peers (ADR 0011)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tongban.interchange.outbox_deliver", ignore_result=True)
def outbox_deliver(message_id: str) -> bool:
    """Deliver one message now (queued after the sending transaction commits)."""
    from .services import message_deliver

    return message_deliver(message_id=message_id)


@shared_task(name="tongban.interchange.outbox_deliver_due", ignore_result=True)
def outbox_deliver_due() -> int:
    """Retry every message whose next attempt is due (periodic: a lost message is resent)."""
    from .services import outbox_deliver_due as deliver_due

    return deliver_due()
