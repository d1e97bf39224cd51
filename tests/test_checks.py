"""Deployment checks (`check --deploy`) for tongban's own settings (config/checks.py)."""

from __future__ import annotations

from typing import Any

from tongban.config.checks import check_backups_sealed, check_shared_rate_limit_cache
from tongban.core.crypto import sm2_keypair

LIMITS = {"login": {"rate": "3/m", "paths": ["/login/"]}}


def test_deploy_check_wants_a_shared_cache(settings: Any) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMITS": LIMITS}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    (warning,) = check_shared_rate_limit_cache(None)
    assert warning.id == "tongban.W001" and "TONGBAN_CACHE_URL" in warning.hint
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
        }
    }
    assert check_shared_rate_limit_cache(None) == []
    settings.TONGBAN = {**settings.TONGBAN, "RATE_LIMITS": {}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert check_shared_rate_limit_cache(None) == []


def test_deploy_check_wants_sealed_backups(settings: Any) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "BACKUP_PUBLIC_KEY": ""}
    (warning,) = check_backups_sealed(None)
    assert warning.id == "tongban.W002" and "backup-key" in warning.hint
    settings.TONGBAN = {**settings.TONGBAN, "BACKUP_PUBLIC_KEY": "ab" * 64}  # not on the curve
    (error,) = check_backups_sealed(None)
    assert error.id == "tongban.E002"
    settings.TONGBAN = {**settings.TONGBAN, "BACKUP_PUBLIC_KEY": sm2_keypair()[1]}
    assert check_backups_sealed(None) == []
