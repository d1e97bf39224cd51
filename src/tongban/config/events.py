"""Event wiring: which outer handler hears which inner event. Filled in as apps need it."""

from __future__ import annotations


def wire() -> None:
    """Subscribe handlers (called once from ConfigConfig.ready)."""
