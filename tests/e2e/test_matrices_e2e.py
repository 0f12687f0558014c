"""The matrix page in a browser: a queued co-occurrence matrix shows its progress, the page polls (htmx,
no inline script) and reloads itself when the job ends to show the heatmap; no axe (WCAG 2.2 AA)
violations on the waiting page, the heatmap and the overlapping passages; Cancel with the keyboard."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import SCREENSHOTS
from .test_accessibility import _violations

pytestmark = pytest.mark.e2e


def _queued(study: Any, lead: Any, raw: dict[str, Any]) -> Any:
    """A matrix whose job is queued but not sent: the test runs it while the page watches."""
    from analysis.matrices import selectors
    from analysis.matrices.models import Matrix
    from jobs.models import Job

    spec = selectors.spec_parse(raw)
    m = Matrix.objects.create(study=study, created_by=lead, spec=spec.as_dict(), key=spec.key,
                              data_version=selectors.data_version(study_id=study.pk))
    m.job = Job.objects.create(study=study, kind="matrix", created_by=lead, required_perm="matrix.view",
                               params={"matrix_id": m.pk}, task_name="matrices.compute")
    m.save()
    return m


def test_cooccurrence_page_polls_then_shows_the_heatmap_and_cancel_works_by_keyboard(
        browser: Any, live_server: Any, transactional_db: None) -> None:
    from django.core.management import call_command

    from accounts.management.commands.demo_data import DEMO_PASSWORD
    from accounts.models import Study, User
    from analysis.matrices.services import matrix_compute_run
    from jobs.models import Job, JobStatus

    call_command("demo_data", verbosity=0)
    study = Study.objects.get(name__startswith="Remote mental-health care")
    lead = User.objects.get(email="lead@demo.chorus")
    m = _queued(study, lead, {"rows": "codes"})
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", lead.email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/studies/{study.pk}/")
    page.click(".study-nav a:text-is('Matrices')")
    page.goto(f"/studies/{study.pk}/matrices/{m.pk}/")
    assert "Queued" in page.locator("#matrix-status").inner_text()
    assert page.locator("progress").count() == 1
    assert _violations(page) == []
    matrix_compute_run(job_id=m.job_id)
    # The poll sees the job done and the page reloads itself with the heatmap.
    page.wait_for_selector("table.heatmap", timeout=15_000)
    assert "codes (co-occurrence)" in page.locator("h1").inner_text()
    assert _violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "cooccurrence-1366.png"), full_page=True)
    # On a phone the table scrolls sideways in its box, and the rows' names stay in view beside the numbers.
    page.set_viewport_size({"width": 360, "height": 800})
    wrap = page.locator(".heatmap-wrap")
    wrap.scroll_into_view_if_needed()
    wrap.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    assert wrap.evaluate("e => e.scrollLeft") > 0
    row_name = page.locator("table.heatmap tbody th[scope=row]").first.bounding_box()
    box = wrap.bounding_box()
    assert row_name is not None
    assert box is not None
    assert abs(row_name["x"] - box["x"]) < 2
    page.screenshot(path=str(SCREENSHOTS / "cooccurrence-360-scrolled.png"))
    page.set_viewport_size({"width": 1366, "height": 900})
    link = page.locator("table.heatmap td a").first
    link.click()
    page.wait_for_selector("h1")
    assert _violations(page) == []

    other = _queued(study, lead, {"rows": "codes", "skip_interviewer": True})
    page.goto(f"/studies/{study.pk}/matrices/{other.pk}/")
    cancel = page.locator("button:text-is('Cancel this matrix')")
    cancel.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The matrix was cancelled.")
    assert Job.objects.get(pk=other.job_id).status == JobStatus.CANCELLED
    context.close()
