"""Per-process read caches of the gateway's hot path."""

from __future__ import annotations

import time
from typing import Any

# The gateway's hot path reads things that change rarely: the resource catalog, an item's
# declared elements, a system key, an approved grant. Each is kept here for CACHE_SECONDS
# (only positive answers: a new key, grant or element is seen at once). Writes in this process
# clear the cache; other processes see a change within CACHE_SECONDS — which bounds how long a
# deactivated key or an edited catalog entry may still be honoured.
CACHE_SECONDS = 60.0
_entries: dict[tuple[Any, ...], tuple[float, Any]] = {}


def cache_get(key: tuple[Any, ...]) -> Any:
    hit = _entries.get(key)
    if hit is None or time.monotonic() - hit[0] > CACHE_SECONDS:
        return None
    return hit[1]


def cache_put(key: tuple[Any, ...], value: Any) -> Any:
    if len(_entries) > 10_000:
        _entries.clear()
    _entries[key] = (time.monotonic(), value)
    return value


def exchange_cache_clear() -> None:
    _entries.clear()
