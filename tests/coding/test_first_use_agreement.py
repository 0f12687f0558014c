"""Issue 11, trips 2 and 5: the agreement report as tables with downloads, and agreement figures that
refresh after a resolution, explained in plain words with a band and its source."""

from __future__ import annotations

import csv
import io
import re

import pytest

from analysis.coding.agreement_report import alpha_band, kappa_band
from analysis.coding.services import codebook as codebook_services

from . import test_disagreements as dis
from .test_disagreements import Setup

# The double-coded SU01 transcript with two disagreements, as the disagreements tests build it.
extra, setup = dis.extra, dis.setup

pytestmark = pytest.mark.django_db


def _report_job(clients, s: Setup, run_jobs) -> int:
    """Start the study-wide report from the double coding page and wait for it (eager tasks by
    default; a real Celery worker when REDIS_URL is set)."""
    r = clients["lead"].post(f"/studies/{s.sid}/double-coding/", {"action": "report"})
    assert r.status_code == 302
    job_id = int(re.search(r"/jobs/(\d+)/", r["Location"]).group(1))
    assert run_jobs(job_id).status == "done"
    return job_id


def test_bands_follow_their_sources():
    assert [kappa_band(k) for k in (-0.1, 0.1, 0.334, 0.42, 0.7, 0.9)] == [
        "poor (worse than chance)", "slight", "fair", "moderate", "substantial", "almost perfect"]
    assert [alpha_band(a) for a in (0.5, 0.7, 0.85)] == ["not reliable", "tentative conclusions only", "reliable"]


@pytest.mark.job
def test_agreement_report_job_page_shows_tables_not_python(cast, clients, setup, book, run_jobs):
    job = _report_job(clients, setup, run_jobs)
    html = clients["lead"].get(f"/studies/{setup.sid}/jobs/{job}/").content.decode()
    assert "{'" not in html
    assert "[{" not in html
    assert 'id="per-transcript-h"' in html
    assert 'id="per-code-h"' in html
    assert 'id="agreement-figures"' in html
    per_code = html.split('id="per-code-h"', 1)[1].split("</table>", 1)[0]
    assert book.cues.name in per_code
    assert "Landis" not in per_code
    assert "Landis &amp; Koch (1977)" in html
    assert "Krippendorff (2004)" in html
    assert f"/studies/{setup.sid}/double-coding/reports/{job}/agreement.xlsx" in html
    assert f"/studies/{setup.sid}/double-coding/reports/{job}/agreement.csv" in html


@pytest.mark.job
def test_agreement_report_downloads_csv_and_xlsx_formula_safe(cast, clients, api, setup, book, run_jobs):
    from openpyxl import load_workbook

    codebook_services.code_update(actor=cast.users["lead"], study_id=setup.sid, code_id=book.cues.pk,
                                  version=book.cues.version, changes={"name": "=HYPERLINK(\"http://x\")"})
    job = _report_job(clients, setup, run_jobs)
    base = f"/studies/{setup.sid}/double-coding/reports/{job}/agreement"
    r = clients["lead"].get(base + ".csv")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Table", "Transcript or code", "Coders", "Characters", "Percent agreement"]
    tables = {row[0] for row in rows[1:]}
    assert tables == {"Overall", "Per transcript", "Per code"}
    assert any(row[1] == "'=HYPERLINK(\"http://x\")" for row in rows)  # text, never a formula
    x = clients["lead"].get(base + ".xlsx")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "Table"
    assert len(values) == len(rows)
    assert all(not (isinstance(v, str) and v.startswith("=")) for row in values for v in row)
    overall = next(row for row in values if row[0] == "Overall")
    assert isinstance(overall[5], float)  # kappa stays a number
    # The same through the API, for the job's creator only.
    assert api["lead"].get(f"/api/v1/studies/{setup.sid}/agreement/report/{job}/agreement.csv").status_code == 200
    assert clients["admin"].get(base + ".csv").status_code == 404  # not their job
    assert clients["coder"].get(base + ".csv").status_code == 403  # coders do not read agreement
    assert clients["outsider"].get(base + ".csv").status_code == 404
    assert clients["lead"].get(base + ".pdf").status_code == 404


def test_figures_refresh_after_a_resolution_with_explanations(cast, clients, setup):
    page = clients["lead"].get(f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/").content.decode()
    figures = page.split('id="agreement-figures"', 1)[1].split("</section>", 1)[0]
    assert "Landis &amp; Koch (1977)" in figures
    assert "Krippendorff (2004)" in figures
    assert "share of characters" in figures  # what percent agreement means, in words
    before = re.search(r"Cohen's kappa</dt><dd><strong>([-0-9.]+)</strong>", figures).group(1)
    r = clients["lead"].post(f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/{setup.cues_key}/resolve/",
                             {"outcome": "keep_a", "confirmed": "1"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200
    oob = body.split('id="agreement-figures"', 1)[1].split("</section>", 1)[0]
    assert 'hx-swap-oob="true"' in re.search(r'<section id="agreement-figures"[^>]*>', body).group(0)
    after = re.search(r"Cohen's kappa</dt><dd><strong>([-0-9.]+)</strong>", oob).group(1)
    assert after != before
    fresh = clients["lead"].get(f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/").content.decode()
    assert f"Cohen's kappa</dt><dd><strong>{after}</strong>" in fresh


def test_neither_is_a_warning_button_that_says_what_it_removes(cast, clients, setup):
    """Trip 7: a destructive outcome is styled as a warning (colour) and worded as one."""
    page = clients["lead"].get(f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/").content.decode()
    neither = re.findall(r'<button class="([^"]*)" name="outcome" value="neither"[^>]*>([^<]*)</button>', page)
    assert neither
    assert all("warning" in cls.split() and "remove both codings" in text for cls, text in neither)
    keep = re.findall(r'<button class="([^"]*)" name="outcome" value="keep_a"', page)
    assert keep
    assert "warning" not in keep[0].split()


def test_disagreements_show_lines_and_text_not_offsets(cast, clients, setup):
    """Trip 13: no raw code-point offsets ("[261, 326)", "27 characters only A") on the page."""
    page = clients["lead"].get(f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/").content.decode()
    main = page.split('<main', 1)[1].split("</main>", 1)[0]
    assert not re.search(r"\[\d+, \d+\)", main)
    assert "characters only" not in main
    assert not re.search(r"characters \d+–\d+", main)
    assert "line 4" in main.lower()
    assert "“On the phone you cannot see if someone is tearful”" in main
