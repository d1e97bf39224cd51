"""Embedded default used by `tongban demo`: SQLite under ./var, plain HTTP on loopback."""

import os

from .base import *  # noqa: F403

DEBUG = False  # demo runs like production, minus TLS; errors never show stack traces
SECRET_KEY = os.environ.get("SECRET_KEY") or "tongban-demo-only-insecure-key-" + "x" * 40
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
