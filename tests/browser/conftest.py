"""Headless Chromium (Debian's package) driven by Playwright against the running app. Without a browser on the
machine these tests skip, unless XINQIAO_TEST_REQUIRE_BROWSER=1 (CI sets it; .ci/run installs Chromium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.service.conftest import Clock, Service, clock, content, database_url, service  # noqa: F401 - fixtures

CHROMIUM = os.environ.get("XINQIAO_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("XINQIAO_TEST_REQUIRE_BROWSER") == "1"
# The machine's network is closed: background services and first-run chores would only fail and slow start-up.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        if REQUIRE_BROWSER:
            pytest.fail("no Chromium found (install Debian's chromium or set XINQIAO_TEST_CHROMIUM)")
        pytest.skip("no Chromium on this machine")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()
