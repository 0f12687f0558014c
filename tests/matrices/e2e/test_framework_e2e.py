"""A lead's framework chart in a browser, at 1,366 px: reached by clicking from the study navigation,
created, a cell opened with the keyboard, its supporting segments read, its summary written, the chart
exported to XLSX and the workbook opened (one sheet per theme). No axe (WCAG 2.2 AA) violations; only the
table scrolls sideways."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import _violations

pytestmark = pytest.mark.e2e


def test_lead_charts_writes_a_summary_and_exports(browser: Any, live_server: Any, transactional_db: None) -> None:
    from django.core.management import call_command

    from accounts.management.commands.demo_data import DEMO_PASSWORD
    from accounts.models import Study
    from analysis.matrices.framework.models import FrameworkCell
    from analysis.themes.models import Theme

    call_command("demo_data", verbosity=0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    study = Study.objects.get(name__startswith="Remote mental-health care")
    themes = list(Theme.objects.filter(study=study).order_by("position", "name", "id").values_list("name", flat=True))
    assert themes, "the demo study has themes"
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "lead@demo.chorus")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/studies/{study.pk}/")
    page.click(".study-nav a:text-is('Matrices')")
    # The matrix form's transcript filter: a find box narrows the long list, ticked ones stay.
    boxes = page.locator("input[name=transcripts]")
    assert boxes.count() >= 8
    boxes.first.check()
    page.fill("#transcripts-filter", "SU0")
    visible = [b for b in boxes.all() if b.is_visible()]
    assert 1 < len(visible) < boxes.count()
    assert boxes.first.is_visible()
    assert "shown" in page.locator(".checklist-filter .hint").inner_text()
    assert _violations(page) == []
    page.click("a:text-is('Framework charts')")
    assert page.locator("h1").inner_text() == "Framework charts"
    assert _violations(page) == []
    page.fill("#id_name", "Remote care, all themes")
    page.click("button:text-is('Create the chart')")
    page.wait_for_selector("table.framework")
    assert page.locator("h1").inner_text() == "Remote care, all themes"
    assert page.locator("table.framework thead th").all_inner_texts()[3:] == themes
    assert _violations(page) == []
    # Readable at 1,366 px: the page itself never scrolls sideways, only the table's region does.
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(SCREENSHOTS / "framework-chart-1366.png"))

    # Keyboard: the first cell with supporting segments, opened with Enter.
    link = page.locator("table.framework td a", has_text="segment").filter(has_not_text="0 segments").first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Supporting segments')")
    page.screenshot(path=str(SCREENSHOTS / "framework-cell-1366.png"))
    assert page.locator(".segment").count() >= 1
    assert "line " in page.locator(".segment-meta").first.inner_text()
    assert _violations(page) == []
    page.fill("#id_summary", "Talks about missing faces on the phone; wants video for first contact.")
    page.click("button:text-is('Save the summary')")
    page.wait_for_selector("table.framework")
    assert page.locator("table.framework", has_text="wants video for first contact").count() == 1
    assert FrameworkCell.objects.get().version == 1

    with page.expect_download() as info:
        page.click("a:text('Excel workbook')")
    wb = load_workbook(io.BytesIO(info.value.path().read_bytes()))
    assert wb.sheetnames[0] == "Chart"
    assert len(wb.sheetnames) == 1 + len(themes)
    found = [row for ws in wb.worksheets[1:] for row in ws.iter_rows(values_only=True)
             if row[3] == "Talks about missing faces on the phone; wants video for first contact."]
    assert len(found) == 1
    assert found[0][4] >= 1
    assert "line " in found[0][5]
    context.close()
