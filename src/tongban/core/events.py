"""Durable domain events: an inner app tells outer ones what happened (ADR 0019).

Apps declare small frozen dataclasses with `@domain_event("app.name")` and publish them;
`tongban.config.events` subscribes handlers at start-up, each under a stable name. No Django
signals for business flow: the wiring is explicit and in one place.

A consequence is a row, not a callback (a transactional outbox):

- `publish(event)` writes the event and one `EventDelivery` per subscribed handler in the
  caller's transaction, so the event exists exactly when the change it reports committed.
- After commit the event's deliveries are attempted (`tasks.events_deliver`: in-process in the
  embedded default, by a Celery worker in production). A handler runs in one transaction with
  marking its delivery done, so its writes and "done" commit together or not at all.
- A delivery that failed, or never ran because the process died between commit and handler,
  is retried by the periodic `events_deliver_due` with exponential backoff; after
  ``TONGBAN["EVENTS"]["MAX_ATTEMPTS"]`` failures it is parked, shown to administrators with its
  error, and can be replayed (`deliveries_replay`).
- Delivery is at least once and deliveries of one aggregate may run out of order after a
  retry, so every handler is idempotent and reads the current state rather than trusting the
  event alone.

An `inline` subscriber runs inside the publishing transaction instead: a consequence within the
same aggregate that must hold atomically with the change (closing a case's supervision alerts).
Its failure fails the change.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction

from . import clock
from .models import DeliveryStatus, Event, EventDelivery
from .registry import Registry

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]


@dataclass(frozen=True)
class Subscription:
    name: str  # stable: delivery rows refer to it
    event: str
    handler: Handler
    inline: bool = False
    # Evaluated at publish time: False writes no delivery (the handler would do nothing).
    when: Callable[[Any], bool] | None = None


EVENT_TYPES: Registry[type] = Registry("event type")
SUBSCRIPTIONS: Registry[Subscription] = Registry("event handler")
_by_event: dict[str, list[Subscription]] = defaultdict(list)


def domain_event(name: str) -> Callable[[type[E]], type[E]]:
    """Class decorator: register a dataclass as the event `name` (stored with each event)."""

    def decorate(cls: type[E]) -> type[E]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass to be an event")
        EVENT_TYPES.register(name, cls)
        cls.event_name = name  # type: ignore[attr-defined]
        return cls

    return decorate


def event_name(event_type: type) -> str:
    name = getattr(event_type, "event_name", None)
    if name is None or EVENT_TYPES.get(name) is not event_type:
        raise TypeError(f"{event_type.__name__} is not a registered domain event")
    return str(name)


def subscribe(
    event_type: type,
    handler: Handler,
    *,
    name: str,
    inline: bool = False,
    when: Callable[[Any], bool] | None = None,
) -> None:
    """Subscribe `handler` to `event_type` under the stable `name` (refused if `name` is taken
    by another handler)."""
    subscription = Subscription(name, event_name(event_type), handler, inline, when)
    existing = SUBSCRIPTIONS.get(name)
    if existing is not None and (existing.handler, existing.event) == (handler, subscription.event):
        return  # wired twice (ready() run again): nothing changes
    SUBSCRIPTIONS.register(name, subscription)
    _by_event[subscription.event].append(subscription)


def unsubscribe(name: str) -> None:
    """Remove a subscription (tests that plug in a handler of their own)."""
    subscription = SUBSCRIPTIONS.get(name)
    if subscription is not None:
        SUBSCRIPTIONS.unregister(name)
        _by_event[subscription.event].remove(subscription)


def _config() -> dict[str, Any]:
    return dict(settings.TONGBAN["EVENTS"])


def publish(event: object) -> None:
    """Record `event` with the change that made it true; its handlers run after commit."""
    name = event_name(type(event))
    subscriptions = [s for s in _by_event.get(name, ()) if s.when is None or s.when(event)]
    if not subscriptions:
        return
    with transaction.atomic():
        for subscription in subscriptions:
            if subscription.inline:
                subscription.handler(event)
        queued = [s for s in subscriptions if not s.inline]
        if not queued:
            return
        now = clock.now()
        payload = dataclasses.asdict(event)  # type: ignore[call-overload]
        record = Event.objects.create(name=name, payload=payload, created_at=now)
        # The periodic retry leaves a fresh delivery alone this long: the attempt queued at
        # commit is normally done by then.
        first_retry = now + timedelta(seconds=_config()["FIRST_RETRY_S"])
        EventDelivery.objects.bulk_create(
            EventDelivery(event=record, handler=s.name, next_attempt_at=first_retry) for s in queued
        )
        event_id = str(record.pk)
        transaction.on_commit(lambda: _queue(event_id), robust=True)


def _queue(event_id: str) -> None:
    from .tasks import events_deliver  # the Celery task (eager in the embedded default)

    try:
        events_deliver.delay(event_id)
    except Exception:
        # The broker is down: the periodic retry delivers it.
        logger.exception("could not queue delivery of event %s; the periodic retry will", event_id)


# ---------------------------------------------------------------- delivery


def backoff(failures: int) -> timedelta:
    """How long after its `failures`-th failure a delivery is tried again."""
    config = _config()
    seconds = config["RETRY_BASE_S"] * 2 ** max(failures - 1, 0)
    return timedelta(seconds=min(config["MAX_BACKOFF_S"], seconds))


def event_build(record: Event) -> Any:
    """The dataclass of a stored event (fields added since it was stored take their defaults;
    fields since removed are dropped)."""
    event_type = EVENT_TYPES[record.name]
    known = {field.name for field in dataclasses.fields(event_type)}
    return event_type(**{key: value for key, value in record.payload.items() if key in known})


def _locked_pending(delivery_id: int) -> EventDelivery | None:
    rows = EventDelivery.objects.select_related("event").filter(
        pk=delivery_id, status=DeliveryStatus.PENDING
    )
    if connection.features.has_select_for_update_skip_locked:
        # Another worker running this delivery holds the row: leave it to them.
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def _claim(delivery_id: int) -> int | None:
    """Count an attempt before it runs, in its own statement, so that an attempt whose process
    dies (killed, out of memory) counts too and such a delivery is parked in the end instead of
    retried for ever; the next attempt time moves on at once, so the periodic retry leaves a
    running attempt alone. Returns the attempt's number, or None when there is nothing to run
    (not pending, or claimed by another runner a moment ago)."""
    seen = (
        EventDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .values_list("attempts", flat=True)
        .first()
    )
    if seen is None:
        return None
    if seen >= _config()["MAX_ATTEMPTS"]:  # the last attempts ended without a word
        with transaction.atomic():
            delivery = _locked_pending(delivery_id)
            if delivery is not None and delivery.attempts == seen:
                _park(
                    delivery,
                    delivery.last_error or "the attempt did not finish (its process ended)",
                )
        return None
    attempt = seen + 1
    claimed = EventDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, attempts=seen
    ).update(attempts=attempt, next_attempt_at=clock.now() + backoff(attempt))
    return attempt if claimed else None


def delivery_attempt(*, delivery_id: int) -> bool | None:
    """Run one pending delivery now: True when its handler succeeded, False when it failed
    (recorded, retried later or parked), None when there was nothing to do (already
    delivered, parked, or being run by another worker)."""
    attempt = _claim(delivery_id)
    if attempt is None:
        return None
    try:
        with transaction.atomic():
            delivery = _locked_pending(delivery_id)
            if delivery is None or delivery.attempts != attempt:
                return None  # another runner has it
            subscription = SUBSCRIPTIONS[delivery.handler]
            subscription.handler(event_build(delivery.event))
            delivery.deliver()
            delivery.delivered_at = clock.now()
            delivery.save(update_fields=["status", "delivered_at"])
            return True
    except Exception as error:
        try:
            _record_failure(delivery_id, attempt, error)
        except Exception:  # the database itself failed: the row stays pending, retried later
            logger.exception("could not record the failure of event delivery %s", delivery_id)
        return False


def _park(delivery: EventDelivery, text: str) -> None:
    """After MAX_ATTEMPTS: stop retrying, tell the administrators (log, audit, admin list)."""
    delivery.park()
    delivery.parked_at = clock.now()
    delivery.last_error = text[:2000]
    delivery.save(update_fields=["status", "parked_at", "last_error"])
    logger.error(
        "event delivery %s (%s of %s) parked after %d attempts: %s",
        delivery.pk,
        delivery.handler,
        delivery.event_id,
        delivery.attempts,
        text,
    )
    from .audit import Outcome, audit_record_append

    audit_record_append(
        actor="system:events",
        action="event.parked",
        outcome=Outcome.FAILURE,
        object_type="event_delivery",
        object_id=str(delivery.pk),
        detail={"handler": delivery.handler, "event": delivery.event.name},
    )


def _record_failure(delivery_id: int, attempt: int, error: Exception) -> None:
    text = f"{type(error).__name__}: {error}"[:2000]
    with transaction.atomic():
        delivery = _locked_pending(delivery_id)
        if delivery is None or delivery.attempts != attempt:  # another runner moved on
            return
        if attempt >= _config()["MAX_ATTEMPTS"]:
            _park(delivery, text)
            return
        delivery.fail()
        delivery.last_error = text
        delivery.next_attempt_at = clock.now() + backoff(attempt)
        delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        logger.warning(
            "event delivery %s (%s) failed (attempt %d), retried at %s: %s",
            delivery.pk,
            delivery.handler,
            attempt,
            delivery.next_attempt_at.isoformat(),
            text,
        )


def event_deliver(*, event_id: str) -> int:
    """Attempt every pending delivery of one event now (queued after its commit); returns how
    many succeeded."""
    ids = list(
        EventDelivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for delivery_id in ids if delivery_attempt(delivery_id=delivery_id))


def deliveries_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Retry the pending deliveries whose next attempt is due (periodic); returns how many
    succeeded."""
    now = now or clock.now()
    ids = list(
        EventDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for delivery_id in ids if delivery_attempt(delivery_id=delivery_id))


def deliveries_replay(*, delivery_ids: Iterable[int], actor: str) -> int:
    """An administrator sends parked deliveries again (after fixing their cause); audited."""
    from .audit import audit_record_append

    with transaction.atomic():
        parked = list(
            EventDelivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids), status=DeliveryStatus.PARKED)
            .order_by("pk")
        )
        now = clock.now()
        for delivery in parked:
            delivery.replay()
            delivery.attempts = 0
            delivery.parked_at = None
            delivery.next_attempt_at = now
            delivery.save(update_fields=["status", "attempts", "parked_at", "next_attempt_at"])
            audit_record_append(
                actor=actor,
                action="event.replay",
                object_type="event_delivery",
                object_id=str(delivery.pk),
                detail={"handler": delivery.handler, "last_error": delivery.last_error[:200]},
            )
        for event_id in sorted({str(delivery.event_id) for delivery in parked}):
            transaction.on_commit(lambda event_id=event_id: _queue(event_id), robust=True)  # type: ignore[misc]
    return len(parked)


def events_prune(*, older_than: timedelta | None = None) -> int:
    """Delete events whose every delivery is done, older than the retention period (daily);
    events with a pending or parked delivery are kept however old."""
    days = _config()["RETENTION_DAYS"]
    cutoff = clock.now() - (older_than if older_than is not None else timedelta(days=days))
    undone = EventDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).values("event_id")
    old = Event.objects.filter(created_at__lt=cutoff).exclude(pk__in=undone)
    _, deleted = old.delete()
    return int(deleted.get(Event._meta.label, 0))
