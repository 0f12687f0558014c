"""Browser tests of the coding page: Playwright (sync API) with Debian's Chromium against
pytest-django's live_server. Never `playwright install`. Pages are watched for Content-Security-Policy
violations through the shared ``browser`` fixture (tests/conftest.py); wait with tests.helpers.wait_until,
not Playwright's wait_for_function (which evaluates strings, refused by the policy)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "e2e-screenshots"


@pytest.fixture(scope="session")
def chromium(browser: Any) -> Any:
    """The run's one Chromium (tests/conftest.py)."""
    return browser


@pytest.fixture
def login(chromium: Any, live_server: Any) -> Iterator[Any]:
    """``login(user)`` -> a page signed in as that user, in its own browser context."""
    contexts: list[Any] = []

    def make(user: Any) -> Any:
        ctx = chromium.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900}, locale="en-GB")
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"coding-{name}.png"), full_page=False)
