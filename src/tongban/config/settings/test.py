"""Test settings: SQLite in a temp file unless DATABASE_URL is set (CI sets it for PostgreSQL)."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import STORAGES, TONGBAN, database_from_env

SECRET_KEY = "tongban-test-key-" + "t" * 50
DEBUG = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["*"]
# TONGBAN_TEST_DIR: a subprocess of a test shares its parent's files (keys, materials).
_TMP = Path(os.environ.get("TONGBAN_TEST_DIR") or tempfile.mkdtemp(prefix="tongban-test-"))
DATABASES = {"default": database_from_env(f"sqlite:///{_TMP / 'test.sqlite3'}")}
STORAGES = {
    **STORAGES,
    "default": {**STORAGES["default"], "OPTIONS": {"location": str(_TMP / "materials")}},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only, tests
CELERY_TASK_ALWAYS_EAGER = True
TONGBAN.update({"MATERIAL_MAX_BYTES": 256 * 1024, "KEY_DIR": _TMP / "keys"})
# Every test client is 127.0.0.1: the rate limits would count the whole suite as one client.
# tests/test_ratelimit.py turns them on.
TONGBAN = {**TONGBAN, "RATE_LIMITS": {}}  # rebound: base.TONGBAN keeps the defaults
os.environ.setdefault("TONGBAN_TESTING", "1")
STATIC_ROOT = _TMP / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The live server thread must not keep connections open past a test (PostgreSQL teardown).
DATABASES["default"]["CONN_MAX_AGE"] = 0
