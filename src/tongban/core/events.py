"""Domain events: an inner app tells outer ones what happened, after commit.

Apps publish small frozen dataclasses; `tongban.config.events` subscribes handlers at start-up.
No Django signals for business flow: the wiring is explicit and in one place.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

Handler = Callable[[Any], None]
_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type, handler: Handler) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(event: object) -> None:
    """Deliver `event` to its subscribers once the current transaction commits."""
    for handler in list(_handlers[type(event)]):
        transaction.on_commit(functools.partial(handler, event), robust=True)
