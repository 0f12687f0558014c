"""A transcript set in a browser, at 1,366 px: the lead ticks transcripts on the transcript list, makes a set
from them, reads it (its page is the current *Transcript sets* section), asks for a matrix of it from its
page and reads the heatmap whose title names the set; the delete confirmation is a warning. No axe
(WCAG 2.2 AA) violations on any of these pages; the strict CSP is watched by the shared browser fixture."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import _violations

pytestmark = pytest.mark.e2e


def test_lead_makes_a_set_from_the_list_and_uses_it_in_a_matrix(browser: Any, live_server: Any,
                                                                transactional_db: None) -> None:
    from django.core.management import call_command

    from accounts.management.commands.demo_data import DEMO_PASSWORD
    from accounts.models import Study
    from analysis.matrices.models import Matrix
    from analysis.matrices.services import matrix_compute_run
    from analysis.transcripts.models import TranscriptSet

    call_command("demo_data", verbosity=0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    study = Study.objects.get(name__startswith="Remote mental-health care")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "lead@demo.chorus")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/studies/{study.pk}/")
    page.click(".study-nav a:text-is('Transcripts')")
    boxes = page.locator("input[name=transcripts]")
    assert boxes.count() >= 3
    for i in range(3):
        boxes.nth(i).check()
    assert _violations(page) == []
    page.fill("#set-new-name", "Video interviews")
    page.screenshot(path=str(SCREENSHOTS / "transcript-list-sets-1366.png"), full_page=True)
    page.click("button:text-is('New set from selection')")
    page.wait_for_selector("h1:text-is('Video interviews')")
    assert page.locator("table.table tbody tr").count() == 3
    assert page.locator(".study-nav [aria-current=page]").all_inner_texts() == ["Transcript sets"]
    assert _violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "transcript-set-1366.png"), full_page=True)
    assert TranscriptSet.objects.get(study=study, name="Video interviews").members.count() == 3

    page.click(".study-nav a:text-is('Transcript sets')")
    assert page.locator("table.table", has_text="Video interviews").count() == 1
    assert page.locator("table.table", has_text="Telephone interviews").count() == 1  # the demo's own set
    assert _violations(page) == []
    page.click("a:text-is('Video interviews')")
    page.click("a:text-is('Delete the set')")
    assert page.locator("button.warning").inner_text() == "Delete the set"
    assert _violations(page) == []
    page.go_back()

    page.click("a:text-is('Ask for a matrix of this set')")
    chosen = page.locator("#id_transcript_set option:checked").inner_text()
    assert chosen == "Video interviews (3 transcripts)"
    assert _violations(page) == []
    page.click("button:text-is('Compute the matrix')")
    page.wait_for_url("**/matrices/*/")
    m = Matrix.objects.get(study=study, spec__transcript_set_id__isnull=False)
    m.refresh_from_db()
    if m.result is None and m.job_id is not None:
        matrix_compute_run(job_id=m.job_id)  # no worker in this test: run the job here, the page polls
    page.wait_for_selector("table.heatmap")
    assert "transcript set “Video interviews”: 3 transcripts" in page.locator("h1").inner_text()
    assert _violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "matrix-by-set-1366.png"), full_page=True)
    context.close()
