"""Retrieval in the browser: from the study navigation to a code's segments and to a downloaded
export by clicking only, under the strict CSP, with axe's WCAG 2.2 AA checks on each page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analysis.coding.services import codings as coding_services

from ..conftest import span_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
AXE = (Path(__file__).resolve().parents[2] / "e2e" / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page: Any) -> list[str]:
    page.evaluate(AXE)  # evaluated, not a <script> tag: the enforced CSP refuses inline scripts
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", TAGS)
    return [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in result["violations"]]


def test_coder_clicks_from_the_codebook_to_segments_and_an_export(login: Any, cast: Any, book: Any, t_north: Any,
                                                                   t_south: Any, celery_worker_process: Any) -> None:
    # celery_worker_process: with REDIS_URL set (CI) the export job needs a real worker to finish.
    for t, words in ((t_north, "you cannot see if someone is tearful"), (t_south, "no training for video calls")):
        s, e = span_of(t, words)
        coding_services.coding_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t.pk,
                                      code_id=book.cues.pk, start=s, end=e)
    page = login(cast.users["coder"])
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"/studies/{cast.study.pk}/")
    page.click(".study-nav a:text('Codebook')")
    assert not violations(page)
    page.click("a:has-text('2 codings')")
    assert page.locator("h1").inner_text() == "Segments coded “Loss of non-verbal cues”"
    assert page.locator("section h2").all_inner_texts()[0].startswith("Service user")
    assert page.locator("mark", has_text="you cannot see if someone is tearful").count() == 1
    assert not violations(page)
    page.click("a:text('Show as one list')")
    assert page.locator(".segment-turn strong", has_text="Interviewer:").count() >= 1
    assert not violations(page)
    page.click("a:text('Export these segments')")
    checked = page.locator("input[name='code']:checked")
    assert [page.locator(f"label[for='{checked.nth(i).get_attribute('id')}']").inner_text()
            for i in range(checked.count())] == ["Therapeutic relationship › Loss of non-verbal cues"]
    assert not violations(page)
    page.check("#fmt-xlsx")
    page.click("button:text('Start the export')")
    page.wait_for_selector("a:text('Download the file')", timeout=30_000)
    assert "Codings exported" in page.content()
    with page.expect_download() as info:
        page.click("a:text('Download the file')")
    assert info.value.suggested_filename.endswith(".xlsx")
    assert not csp_errors, csp_errors
