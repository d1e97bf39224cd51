"""Answers given before a request reaches any view: load shedding (503) and rate limits (429).

Both must cost next to nothing, so they are built here without templates, sessions or the
database, and counted in one log line every LOG_EVERY_SECONDS instead of one per request
(logging each refused request would spend what refusing it saves).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.http import HttpRequest, HttpResponse

LOG_EVERY_SECONDS = 10.0


def refusal(
    request: HttpRequest, *, status: int, api_body: dict[str, Any], page: str, retry_after: int
) -> HttpResponse:
    """Under /api/ the API's error body {code, message, fields}, elsewhere a small static page;
    with Retry-After, never cached."""
    if request.path.startswith("/api/"):
        body = json.dumps(api_body, ensure_ascii=False).encode()
        response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(
            page.encode(), status=status, content_type="text/html; charset=utf-8"
        )
        response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        response["X-Frame-Options"] = "DENY"
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    response["Content-Length"] = str(len(response.content))
    response._has_been_logged = True  # type: ignore[attr-defined]  # not once per request
    return response


class CountedLog:
    """Counts events and logs "<message> (n in the last s)" at most every LOG_EVERY_SECONDS."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._count = 0
        self._last = time.monotonic()

    def count(self, message: str, *args: Any) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if now - self._last < LOG_EVERY_SECONDS:
                return
            count, self._count = self._count, 0
            elapsed, self._last = now - self._last, now
        self._logger.warning(f"{message} ({count} in the last {elapsed:.0f} s)", *args)
