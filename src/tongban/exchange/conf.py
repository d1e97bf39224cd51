"""Exchange settings: read from settings.TONGBAN["EXCHANGE"] when present, else these defaults.

Every value is a local policy (provinces differ), so each is a setting:
- HTTP_TIMEOUT_SECONDS / HTTP_RETRIES / HTTP_BACKOFF_SECONDS: remote registry calls. Lookups
  are idempotent reads, so a timeout, a refused connection or a 5xx is retried with exponential
  backoff (backoff, 2×backoff, …) before the caller gets 503/504.
- GRANT_DAYS: default lifetime of an approved grant. CONSENT_DAYS: of a prefill consent.
- CREDENTIAL_DAYS: lifetime of a system API key.
- RATE_LIMIT per RATE_WINDOW_SECONDS: lookups per calling account before a `rate` alert;
  the count is taken on every RATE_CHECK_EVERY-th lookup of an account in a process.
- UNMASKED_LIMIT per RATE_WINDOW_SECONDS: plain-value lookups before a `bulk_unmasking` alert.
- WORKING_HOURS: local (start, end) hours of a working day; lookups outside them, or on a
  non-working day (core.calendar), raise an `off_hours` alert.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "HTTP_TIMEOUT_SECONDS": 3.0,
    "HTTP_RETRIES": 2,
    "HTTP_BACKOFF_SECONDS": 0.2,
    "GRANT_DAYS": 365,
    "CONSENT_DAYS": 30,
    "CREDENTIAL_DAYS": 365,
    "RATE_LIMIT": 120,
    "RATE_WINDOW_SECONDS": 600,
    "RATE_CHECK_EVERY": 5,
    "UNMASKED_LIMIT": 20,
    "WORKING_HOURS": (8, 18),
}


def exchange_setting(name: str) -> Any:
    overrides = getattr(settings, "TONGBAN", {}).get("EXCHANGE", {})
    return overrides.get(name, DEFAULTS[name])
