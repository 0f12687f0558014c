"""The Content-Security-Policy in Chromium: the watcher that every e2e test runs under really sees a
violation, and the API documentation and an error page work under the policy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def _wait_for_violations(page: Page, seen: list[str], count: int) -> None:
    for _ in range(100):
        if len(seen) >= count:
            return
        page.wait_for_timeout(20)


def test_the_watcher_sees_inline_styles_and_scripts_refused(page: Page, csp_violations: list[str]) -> None:
    page.goto("/accounts/login/")
    # What a stored-XSS slip would put into a page: an inline script and a style attribute.
    page.evaluate("""() => {
        document.querySelector('main').insertAdjacentHTML('beforeend', '<p id="x" style="color: rgb(255, 0, 0)">x</p>');
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true;';
        document.body.append(s);
    }""")
    _wait_for_violations(page, csp_violations, 2)
    assert page.evaluate("() => window.__injected") is None  # the script did not run
    assert page.locator("#x").evaluate("el => getComputedStyle(el).color") != "rgb(255, 0, 0)"
    seen = "\n".join(csp_violations)
    assert "script-src" in seen, seen
    assert "style-src" in seen, seen
    assert "/accounts/login/" in seen
    csp_violations.clear()  # provoked on purpose: the guard must not fail this test


def test_swagger_ui_works_under_the_policy(page: Page) -> None:
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chorus API")
    operation = page.locator(".opblock-summary").first
    expect(operation).to_be_visible()
    operation.click()  # expands: the UI's scripts run
    expect(page.locator(".opblock-body").first).to_be_visible()


def test_redoc_address_leads_to_swagger_ui(page: Page) -> None:
    page.goto("/api/v1/redoc/")
    expect(page).to_have_url(re.compile(r"/api/v1/docs/$"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chorus API")


def test_error_page_is_styled_under_the_policy(page: Page, cast: Any) -> None:
    response = page.goto("/no-such-page/")
    assert response is not None
    assert response.status == 404
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    # The stylesheet loaded ('self'): the header has its blue background.
    assert page.locator(".site-header").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(0, 94, 184)"


@pytest.mark.django_db(transaction=True)
def test_the_django_admin_works_under_the_policy(page: Page) -> None:
    from accounts.models import User

    User.objects.create_superuser(email="root@example.org", password="correct horse battery")
    page.goto("/django-admin/login/")
    page.fill("#id_username", "root@example.org")
    page.fill("#id_password", "correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()
    page.goto("/django-admin/auth/group/add/")
    page.fill("#id_name", "Readers")
    expect(page.locator("#id_permissions_from, #id_permissions")).to_have_count(1)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Readers")
    page.goto("/django-admin/auth/group/")
    expect(page.locator("#result_list")).to_contain_text("Readers")


def test_htmx_is_told_to_need_nothing_inline(page: Page) -> None:
    page.goto("/accounts/login/")
    config = page.evaluate("() => ({...htmx.config})")
    assert config["includeIndicatorStyles"] is False  # no injected <style> element
    assert config["allowEval"] is False  # hx-on / js: values could only fail under script-src 'self'
    assert config["allowScriptTags"] is False  # scripts in swapped HTML would be inline scripts
    assert page.locator("head style").count() == 0
