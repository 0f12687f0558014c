"""Every page a role reaches by clicking, under the Content-Security-Policy: starting from the study
overview, each role follows the links on its pages (one page per URL shape, GET only) in a study filled
with the demo data. The e2e watcher (tests/conftest.py) fails the test on any violation, so pages no
other browser test opens are checked too, with their scripts and htmx swaps running."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from .test_accessibility import demo  # noqa: F401 - the demo-data fixture

pytestmark = pytest.mark.e2e
ROLES = ["admin@demo.chorus", "lead@demo.chorus", "coder@demo.chorus", "ppi@demo.chorus"]
# Downloads (files, the schema) are not pages, and signing out would end the walk.
SKIP = re.compile(r"/(?:download|export)(?:/|$)|\.\w+$|/logout/|^/django-admin/|^/static/|^/api/v1/(?!docs/)")
MAX_PAGES = 80


def shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/N", path)


@pytest.mark.parametrize("email", ROLES)
def test_every_page_a_role_reaches_by_clicking_keeps_to_the_policy(
    browser: Any, live_server: Any, demo: Any, email: str  # noqa: F811
) -> None:
    from accounts.management.commands.demo_data import DEMO_PASSWORD

    study = demo[0]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/studies/$"))
    queue, shapes, visited = [f"/studies/{study.pk}/"], set(), []
    while queue and len(visited) < MAX_PAGES:
        path = queue.pop(0)
        if shape(path) in shapes:
            continue
        shapes.add(shape(path))
        try:
            response = page.goto(path)
        except PlaywrightError as e:
            if "Download is starting" in str(e):
                continue
            raise
        assert response is not None, path
        assert response.status < 500, f"{path}: {response.status}"
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        visited.append(path)
        if page.locator("#coding-config").count():
            page.wait_for_selector("html[data-coding-ready='1']")
        page.wait_for_load_state("networkidle")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target = urlsplit(urljoin(page.url, href))
            if target.netloc != urlsplit(live_server.url).netloc or SKIP.search(target.path):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if shape(target.path) not in shapes:
                queue.append(link)
    context.close()
    assert len(visited) >= (3 if email.startswith("ppi") else 15), visited
