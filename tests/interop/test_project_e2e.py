"""The project import in a real browser, as a lead: from the study navigation, upload, read the preview
(axe WCAG 2.2 AA), name a placeholder coder with the keyboard, import, see the result; then export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analysis.coding.models import Coding
from analysis.transcripts.models import Transcript

from .conftest import add_participants

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
AXE = (Path(__file__).resolve().parents[1] / "e2e" / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _violations(page: Any) -> list[str]:
    page.evaluate(AXE)  # through DevTools: an added inline <script> is refused by the policy
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", TAGS)
    return [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in result["violations"]]


def test_lead_imports_and_exports_a_project_in_the_browser(browser: Any, live_server: Any, cast: Any,
                                                           generated: Path) -> None:
    add_participants(cast, generated)
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", cast.users["lead"].email)
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.goto(f"/studies/{cast.study.pk}/")
        page.get_by_role("navigation", name="Study sections").get_by_role("link", name="Import project").click()
        page.get_by_label("Project file (.qdpx)").set_input_files(str(generated / "study.qdpx"))
        page.get_by_role("button", name="Check the project").click()
        page.get_by_role("heading", name="Check the project before importing").wait_for()
        assert _violations(page) == []
        # Keyboard only: focus the first placeholder name, type a name, submit the choices with Enter.
        name = page.get_by_label("Placeholder coder's name").first
        name.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("Dr Keyboard")
        page.keyboard.press("Enter")
        page.get_by_text("Your choices are saved").wait_for()
        page.get_by_role("button", name="Import now").click()
        page.get_by_text("Transcripts added").first.wait_for()
        assert Transcript.objects.filter(study=cast.study).count() == 6
        assert Coding.objects.filter(study=cast.study, coder__full_name="Dr Keyboard").exists()
        page.get_by_role("navigation", name="Study sections").get_by_role("link", name="Export project").click()
        page.get_by_role("heading", name="This export would contain").wait_for()
        assert _violations(page) == []
        page.get_by_role("button", name="Export this selection").click()
        page.get_by_role("link", name="Download the file").wait_for()
    finally:
        ctx.close()
