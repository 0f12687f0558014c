"""What each role sees, signed in through the real form in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import AuditEvent, Membership

from ..helpers import PASSWORD

pytestmark = pytest.mark.e2e

SECTIONS = ("Members", "Audit log", "Settings")
#              role: sections of the study nav it must see (the others must be absent)
VISIBLE_SECTIONS = {
    "admin": {"Members", "Audit log", "Settings"},
    "lead": {"Members"},
    "coder": set(),
    "coder_other_site": set(),
    "ppi": set(),
}
ROLE_LABEL = {"admin": "Admin", "lead": "Lead", "coder": "Coder", "coder_other_site": "Coder", "ppi": "PPI co-designer"}


def sign_in(page: Page, role: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(f"{role.upper()}@example.org")  # case does not matter
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/studies/$"))
    expect(page.get_by_role("heading", name="Your studies")).to_be_visible()


def study_nav(page: Page) -> Any:
    return page.get_by_role("navigation", name="Study sections")


@pytest.mark.parametrize("role", list(VISIBLE_SECTIONS))
def test_member_sees_the_study_and_the_sections_of_their_role(
    page: Page, cast: Any, role: str, screenshot_dir: Path
) -> None:
    sign_in(page, role)
    studies = page.get_by_role("table", name="Studies you are a member of")
    expect(studies.get_by_role("link", name="Remote mental-health care")).to_be_visible()
    expect(studies).to_contain_text(ROLE_LABEL[role])
    expect(page.get_by_text("Another study")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / f"{role}-studies.png"), full_page=True)

    studies.get_by_role("link", name="Remote mental-health care").click()
    expect(page.get_by_role("heading", level=1, name="Remote mental-health care")).to_be_visible()
    nav = study_nav(page)
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    for section in SECTIONS:
        link = nav.get_by_role("link", name=section, exact=True)
        if section in VISIBLE_SECTIONS[role]:
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)
    expect(page.locator(".study-bar .role-badge")).to_have_text(ROLE_LABEL[role])
    if role == "coder_other_site":
        expect(page.get_by_text("limited to sites: South Trust")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / f"{role}-study.png"), full_page=True)

    # A section the role may not open answers with the friendly 403 page, not a stack trace.
    if "Audit log" not in VISIBLE_SECTIONS[role]:
        response = page.goto(f"/studies/{cast.study.pk}/audit/")
        assert response is not None
        assert response.status == 403
        expect(page.get_by_role("heading", name="You cannot do this")).to_be_visible()


def test_outsider_does_not_see_the_study_and_gets_404(page: Page, cast: Any, screenshot_dir: Path) -> None:
    sign_in(page, "outsider")
    expect(page.get_by_role("link", name="Another study")).to_be_visible()
    expect(page.get_by_text("Remote mental-health care")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "outsider-studies.png"), full_page=True)
    for path in ("/", "/members/", "/audit/", "/settings/"):
        response = page.goto(f"/studies/{cast.study.pk}{path}")
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        # Nothing about the study leaks into the page.
        expect(page.get_by_text("Remote mental-health care")).to_have_count(0)
        expect(study_nav(page)).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "outsider-404.png"), full_page=True)


def test_anonymous_is_sent_to_sign_in(page: Page, cast: Any, screenshot_dir: Path) -> None:
    page.goto(f"/studies/{cast.study.pk}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.get_by_role("heading", name="Sign in to Chorus")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "anonymous-login.png"), full_page=True)
    # A wrong password shows the error summary.
    page.get_by_label("E-mail address").fill("admin@example.org")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    page.screenshot(path=str(screenshot_dir / "anonymous-login-error.png"), full_page=True)


def test_admin_adds_a_member_through_the_form(page: Page, cast: Any, screenshot_dir: Path) -> None:
    sign_in(page, "admin")
    page.goto(f"/studies/{cast.study.pk}/")
    study_nav(page).get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1, name="Members")).to_be_visible()
    page.get_by_label("E-mail address").fill("new.coder@example.org")
    page.get_by_label("Name (for a new account)").fill("Nia Coder")
    page.get_by_label("Role").select_option("coder")
    page.get_by_label("North Trust").check()
    page.get_by_label("Carer").check()
    page.get_by_role("button", name="Add member").click()

    expect(page.get_by_role("status")).to_contain_text("new.coder@example.org added as Coder")
    row = page.get_by_role("row").filter(has_text="new.coder@example.org")
    expect(row).to_contain_text("Nia Coder")
    expect(row).to_contain_text("invited")
    expect(row).to_contain_text("Sites: North Trust")
    expect(row).to_contain_text("Groups: Carer")
    page.screenshot(path=str(screenshot_dir / "admin-members-added.png"), full_page=True)
    m = Membership.objects.get(study=cast.study, user__email="new.coder@example.org")
    assert m.role == "coder"

    # A duplicate is refused with the error next to the field.
    page.get_by_label("E-mail address").fill("NEW.CODER@example.org")
    page.get_by_label("Role").select_option("ppi")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("already a member of this study")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "admin-members-duplicate.png"), full_page=True)


def test_admin_filters_the_audit_log(page: Page, cast: Any, screenshot_dir: Path) -> None:
    admin, lead = cast.users["admin"], cast.users["lead"]
    for actor, action in ((admin, "membership.create"), (admin, "membership.update"), (lead, "site.create"),
                          (admin, "study.update")):
        AuditEvent.objects.create(actor=actor, actor_email=actor.email, action=action, study=cast.study,
                                  details={"note": f"{action} by {actor.email}"})
    sign_in(page, "admin")
    page.goto(f"/studies/{cast.study.pk}/")
    study_nav(page).get_by_role("link", name="Audit log").click()
    results = page.locator("#audit-results")
    # The four events above and the admin's own sign-in, which the study's log shows for its members.
    expect(results).to_contain_text("5 entries")
    expect(results).to_contain_text("auth.login")

    # htmx refreshes the table as soon as a filter changes.
    page.get_by_label("Action").select_option("membership")
    expect(results).to_contain_text("2 entries")
    expect(page).to_have_url(re.compile(r"action=membership"))
    expect(results.get_by_text("site.create")).to_have_count(0)

    page.get_by_label("User").select_option(label="lead@example.org")
    expect(results).to_contain_text("0 entries")
    page.get_by_label("Action").select_option("")
    expect(results).to_contain_text("1 entry")
    expect(results).to_contain_text("site.create")
    page.screenshot(path=str(screenshot_dir / "admin-audit-filtered.png"), full_page=True)

    # Dates: a range in the future matches nothing (submitted with the Filter button).
    page.get_by_label("User").select_option("")
    page.get_by_label("From").fill("2999-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(results).to_contain_text("0 entries")


def test_keyboard_skip_link_is_the_first_tab_stop(page: Page, cast: Any, screenshot_dir: Path) -> None:
    sign_in(page, "coder")
    page.goto(f"/studies/{cast.study.pk}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent.trim(), document.activeElement.getAttribute('href')]")
    assert focused == ["Skip to main content", "#main"]
    box = page.get_by_text("Skip to main content").bounding_box()
    assert box is not None
    assert box["x"] >= 0, "the focused skip link is on screen"
    assert box["y"] >= 0, "the focused skip link is on screen"
    page.screenshot(path=str(screenshot_dir / "coder-skip-link-focused.png"))
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # The next Tab lands inside the main content, past the header and navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('main')")


def test_small_screen_layout(browser: Any, live_server: Any, cast: Any, screenshot_dir: Path) -> None:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740}, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, "admin")
        page.goto(f"/studies/{cast.study.pk}/members/")
        # Nothing overflows sideways on a phone.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(screenshot_dir / "admin-members-mobile.png"), full_page=True)
    finally:
        context.close()
