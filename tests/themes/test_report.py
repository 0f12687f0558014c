"""The themes report: a job writes Markdown or Word, as its creator sees the study, with consent read
when it runs; the PPI version is plain and leaks no pseudonym or code; the purge removes report files."""

from __future__ import annotations

import io

import pytest

from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import reports as report_services
from jobs.models import Job, JobStatus

from .conftest import SU01_WORDS

pytestmark = pytest.mark.job


def _report(cast, run_jobs, **kw) -> bytes:
    job = report_services.themes_report_start(actor=cast.users["lead"], study_id=cast.study.pk, **kw)
    job = run_jobs(job.pk)
    assert job.status == JobStatus.DONE, job.error
    with job.result_file.open("rb") as fh:
        return fh.read()


def test_team_markdown_has_codes_counts_and_quotes(cast, world, quote, run_jobs):
    md = _report(cast, run_jobs, fmt="md", audience="team").decode()
    assert "## Seeing each other" in md
    assert "Codes: Loss of non-verbal cues, Training" in md
    assert "| Service user | 1 | 1 |" in md
    assert f"> “{SU01_WORDS}” (Service user)" in md


def test_ppi_summary_in_word_is_plain_and_leaks_nothing(cast, world, quote, run_jobs):
    from docx import Document

    s = comment_services.comment_create(actor=cast.users["ppi"], study_id=cast.study.pk, theme_id=world.theme.pk,
                                body="Plainer", kind="rename", suggested_name="Missing faces")
    comment_services.suggestion_decide(actor=cast.users["lead"], study_id=cast.study.pk, comment_id=s.pk, accept=True)
    data = _report(cast, run_jobs, fmt="docx", audience="ppi")
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "Missing faces" in text
    assert "People miss seeing each other's faces." in text
    assert "The team has checked this idea" in text
    assert f"“{SU01_WORDS}” (Service user)" in text
    assert "renamed this theme" in text
    for leak in ("SU01", "North Trust", "Loss of non-verbal cues", "Training"):
        assert leak not in text, leak


def test_withdrawn_participant_is_not_quoted_and_purge_drops_reports(cast, world, quote, run_jobs):
    _report(cast, run_jobs, fmt="md", audience="team")
    world.su01.consent_answers = {**world.su01.consent_answers, "anonymised_quotes": False}
    world.su01.save()
    md = _report(cast, run_jobs, fmt="md", audience="team").decode()
    assert SU01_WORDS not in md
    assert quote_services.quotes_purge(participant=world.su01)["theme_reports"] == 2
    assert not Job.objects.filter(kind="themes_report").exclude(result_file="").exists()


def test_bad_report_requests(cast, api, world):
    url = f"/api/v1/studies/{cast.study.pk}/themes/report/"
    assert api["lead"].post(url, {"format": "pdf", "audience": "team"}, format="json").status_code == 400
    assert api["lead"].post(url, {"format": "md", "audience": "everyone"}, format="json").status_code == 400
    assert not Job.objects.exists()
