"""JSON API of the exchange app (mounted in tongban.config.api)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["exchange"])
