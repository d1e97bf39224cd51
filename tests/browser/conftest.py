"""Browser tests: Playwright (sync API) driving the system Chromium against `live_server`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def chromium_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """A fresh headless page of the system Chromium; skipped (or failed on CI) without it."""
    if not CHROMIUM.exists():
        message = f"system Chromium not installed: apt-get install chromium (looked for {CHROMIUM})"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an asyncio event loop in the test thread; Django refuses ORM
    # calls from a thread with a running loop unless told this is safe (it is: the loop only
    # drives the browser, the ORM calls are ordinary blocking calls). Set for this test only:
    # left in os.environ it would leak into subprocesses (`check --deploy` fails on it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            context.set_default_navigation_timeout(TIMEOUT_MS)
            try:
                yield context.new_page()
            finally:
                context.close()
                # The test's own queries ran while Playwright's event loop was running, on a
                # connection of that context: close it there, or PostgreSQL refuses to drop
                # the test database at the end of the run.
                from django.db import connections

                connections.close_all()
        finally:
            browser.close()
