"""Deployment checks (`manage.py check --deploy`) for settings only tongban knows about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_shared_rate_limit_cache(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Rate limits counted in a per-process cache are per process: one limit per worker."""
    if not settings.TONGBAN.get("RATE_LIMITS"):
        return []
    name = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(name, {}).get("BACKEND", "")
    if backend.endswith(("LocMemCache", "DummyCache", "FileBasedCache", "DatabaseCache")):
        return [
            checks.Warning(
                f"rate limits are counted in {backend.rsplit('.', 1)[-1]}, per process",
                hint="set TONGBAN_CACHE_URL=redis://host:6379/1 so that every process shares "
                "the counts (docs/adr/0017-rate-limits.md)",
                id="tongban.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_backups_sealed(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Backups hold every applicant's data: production seals them to a recovery key."""
    from tongban.core.crypto import SM2KeyError, sm2_public_key_normalise

    key = settings.TONGBAN.get("BACKUP_PUBLIC_KEY") or ""
    if not key:
        return [
            checks.Warning(
                "backups are not encrypted (TONGBAN_BACKUP_PUBLIC_KEY is not set)",
                hint="create a recovery key with `tongban backup-key FILE`, keep FILE off the "
                "server and set TONGBAN_BACKUP_PUBLIC_KEY to the public key it prints "
                "(docs/adr/0007-backup-and-restore.md)",
                id="tongban.W002",
            )
        ]
    try:
        sm2_public_key_normalise(key)
    except SM2KeyError as error:
        return [
            checks.Error(
                f"TONGBAN_BACKUP_PUBLIC_KEY is not an SM2 public key: {error}",
                id="tongban.E002",
            )
        ]
    return []
