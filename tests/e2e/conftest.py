"""Browser tests: Playwright (Python, sync API) driving Debian's Chromium against pytest-django's
live_server. Never `playwright install`: the browser is the system's /usr/bin/chromium.

Every context made from the shared ``browser`` fixture (tests/conftest.py) is watched for
Content-Security-Policy violations, and any violation fails the test. Playwright's
``wait_for_function`` evaluates strings, which the policy refuses: use tests.helpers.wait_until."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "e2e-screenshots"


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
