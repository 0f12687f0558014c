"""Framework charts: rows in scope and consent, summaries with versions and history, the 409 when two people
edit one cell, supporting segments, exports (XLSX one sheet per theme, CSV), purge, and bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from openpyxl import load_workbook

from accounts.models import AuditEvent
from analysis.matrices.framework import selectors, services
from analysis.matrices.framework.models import FrameworkCell, FrameworkCellEdit, FrameworkChart
from participants.models import ConsentState, Participant

from .conftest import Small

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process() -> Any:
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def chart(cast: Any, small: Small, **kw: Any) -> FrameworkChart:
    return services.framework_chart_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Remote care",
                                           theme_ids=[small.theme.pk], **kw)


def write(cast: Any, role: str, c: FrameworkChart, who: str, small: Small, version: int, text: str) -> FrameworkCell:
    return services.framework_cell_write(actor=cast.users[role], study_id=cast.study.pk, chart_id=c.pk,
                                         participant_id=small.people[who].pk, theme_id=small.theme.pk,
                                         version=version, summary=text)


def test_rows_follow_group_order_consent_and_scope(cast: Any, small: Small) -> None:
    c = chart(cast, small)
    grid = selectors.chart_grid(user=cast.users["lead"], study_id=cast.study.pk, chart=c)
    names = [r.participant.pseudonym for r in grid.rows]
    # Ordered by group (service user, carer, staff) then pseudonym; CA02 withdrew with deletion: never a row.
    # CA01 withdrew keeping their data: a row, counted.
    assert names == ["SU01", "CA01", "ST01"]
    segments = {r.participant.pseudonym: r.cells[0].segments for r in grid.rows}
    # The theme is "non-verbal cues" + "carers excluded": SU01 has 2, CA01 1, ST01 1 (the lead's codings).
    assert segments == {"SU01": 2, "CA01": 1, "ST01": 1}
    south = selectors.chart_grid(user=cast.users["coder_other_site"], study_id=cast.study.pk, chart=c)
    assert [r.participant.pseudonym for r in south.rows] == ["ST01"]
    with pytest.raises(Http404):
        write(cast, "coder_other_site", c, "SU01", small, 0, "Not my site")
    only_staff = services.framework_chart_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Staff",
                                                 group_ids=[small.people["ST01"].group_id])
    assert [r.participant.pseudonym for r in selectors.chart_grid(
        user=cast.users["lead"], study_id=cast.study.pk, chart=only_staff).rows] == ["ST01"]


def test_summary_versions_history_and_conflict(cast: Any, small: Small) -> None:
    c = chart(cast, small)
    first = write(cast, "lead", c, "SU01", small, 0, "Misses seeing faces.")
    assert first.version == 1
    second = write(cast, "coder", c, "SU01", small, 1, "Misses seeing faces; phone calls felt cold.")
    assert second.version == 2
    # The lead still has version 1 open: their save is refused with the coder's text, nothing written.
    with pytest.raises(services.CellConflict) as exc:
        write(cast, "lead", c, "SU01", small, 1, "Something else")
    assert exc.value.current.summary == "Misses seeing faces; phone calls felt cold."
    assert "your text was not saved" in str(exc.value)
    # A second first write (version 0) on a written cell is a conflict too.
    with pytest.raises(services.CellConflict):
        write(cast, "coder", c, "SU01", small, 0, "Also new")
    edits = list(FrameworkCellEdit.objects.filter(cell=second).order_by("version").values_list("version", "summary"))
    assert edits == [(1, "Misses seeing faces."), (2, "Misses seeing faces; phone calls felt cold.")]
    # Saving the same text again is not a new version.
    assert write(cast, "coder", c, "SU01", small, 2, "Misses seeing faces; phone calls felt cold.").version == 2


def test_api_cell_409_carries_the_other_persons_text(cast: Any, small: Small, api: Any) -> None:
    c = chart(cast, small)
    url = (f"/api/v1/studies/{cast.study.pk}/matrices/framework/{c.pk}/cells/"
           f"{small.people['SU01'].pk}/{small.theme.pk}/")
    assert api["coder"].get(url).json()["version"] == 0
    r = api["coder"].put(url, {"summary": "Coder's view", "version": 0}, format="json")
    assert r.status_code == 200
    assert r.json()["version"] == 1
    r = api["lead"].put(url, {"summary": "Lead's view", "version": 0}, format="json")
    assert r.status_code == 409
    assert r.json()["current"]["summary"] == "Coder's view"
    assert r.json()["current"]["version"] == 1
    assert FrameworkCell.objects.get().summary == "Coder's view"
    r = api["lead"].put(url, {"summary": "x" * (services.SUMMARY_MAX + 1), "version": 1}, format="json")
    assert r.status_code == 400
    r = api["lead"].put(url, {"summary": "ok", "version": -1}, format="json")
    assert r.status_code == 400
    segs = api["lead"].get(url + "segments/").json()
    assert segs["total"] == 2
    assert segs["segments"][0]["line"] >= 1


def test_page_conflict_keeps_my_text_and_shows_theirs(cast: Any, small: Small, clients: Any) -> None:
    c = chart(cast, small)
    url = (f"/studies/{cast.study.pk}/matrices/framework/{c.pk}/cells/"
           f"{small.people['SU01'].pk}/{small.theme.pk}/")
    page = clients["coder"].get(url).content.decode()
    assert "On the phone you cannot see if someone is tearful." in page  # a supporting segment, in context
    assert "line " in page
    assert "style=" not in page
    assert clients["coder"].post(url, {"summary": "Coder's view", "version": 0}).status_code == 302
    r = clients["lead"].post(url, {"summary": "Lead's view", "version": 0})
    assert r.status_code == 409
    html = r.content.decode()
    assert "Coder&#x27;s view" in html
    assert "Lead&#x27;s view" in html
    assert "Save my text" in html
    # "Save my text" now carries version 1: the lead overwrites knowingly.
    assert clients["lead"].post(url, {"summary": "Lead's view", "version": 1}).status_code == 302
    assert FrameworkCell.objects.get().version == 2
    grid = clients["lead"].get(f"/studies/{cast.study.pk}/matrices/framework/{c.pk}/").content.decode()
    assert "Lead&#x27;s view" in grid
    assert "<table class=\"framework\">" in grid


def test_withdrawn_retain_counts_but_text_is_hidden(cast: Any, small: Small) -> None:
    c = chart(cast, small)
    view = selectors.cell_get(user=cast.users["lead"], study_id=cast.study.pk, chart=c,
                              participant_id=small.people["CA01"].pk, theme_id=small.theme.pk)
    page = selectors.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, view=view)
    assert page.total == 1
    assert not page.segments[0].shown
    assert page.segments[0].text == ""
    with pytest.raises(Http404):
        selectors.cell_get(user=cast.users["lead"], study_id=cast.study.pk, chart=c,
                           participant_id=small.people["CA02"].pk, theme_id=small.theme.pk)


def test_exports_xlsx_one_sheet_per_theme_and_csv(cast: Any, small: Small, clients: Any) -> None:
    c = services.framework_chart_create(actor=cast.users["lead"], study_id=cast.study.pk, name="All themes")
    from analysis.themes.services.themes import theme_create

    theme_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Technology: what/why?",
                 code_ids=[small.codes["tech"].pk])
    write(cast, "lead", c, "SU01", small, 0, "=HYPERLINK(\"http://x\")")
    base = f"/studies/{cast.study.pk}/matrices/framework/{c.pk}/export/"
    r = clients["lead"].get(base + "xlsx/")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert wb.sheetnames == ["Chart", "Seeing each other", "Technology  what why"]
    ws = wb["Seeing each other"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1] == ("Participant", "Group", "Site", "Summary", "Supporting segments", "Where (transcript, line)")
    su = next(row for row in rows if row[0] == "SU01")
    assert su[3] == "'=HYPERLINK(\"http://x\")"  # formula-safe
    assert su[4] == 2
    assert su[5].count("line ") == 2
    assert [row[0] for row in rows[2:]] == ["SU01", "CA01", "ST01"]
    r = clients["lead"].get(base + "csv/")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0] == ["Participant", "Group", "Site", "Seeing each other", "Technology: what/why?"]
    assert table[1][0] == "SU01"
    assert table[1][3].startswith("'=")
    assert clients["lead"].get(base + "pdf/").status_code == 400
    assert AuditEvent.objects.filter(action="framework.export").count() == 2


def test_audit_create_delete_and_validation(cast: Any, small: Small) -> None:
    c = chart(cast, small)
    assert AuditEvent.objects.filter(action="framework.create", details__name="Remote care").exists()
    for bad in ({"name": ""}, {"name": "x" * 201}, {"name": "a\x00b"}, {"name": "ok", "theme_ids": [999_999]},
                {"name": "ok", "theme_ids": "nope"}):
        with pytest.raises(ValidationError):
            services.framework_chart_create(actor=cast.users["lead"], study_id=cast.study.pk, **bad)
    with pytest.raises(ValidationError):
        write(cast, "lead", c, "SU01", small, 0, "a\x00b")
    write(cast, "lead", c, "SU01", small, 0, "Kept until the chart goes")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):  # the coder did not make it
        services.framework_chart_delete(actor=cast.users["coder"], study_id=cast.study.pk, chart_id=c.pk)
    services.framework_chart_delete(actor=cast.users["lead"], study_id=cast.study.pk, chart_id=c.pk)
    assert not FrameworkCell.objects.exists()
    assert not FrameworkCellEdit.objects.exists()
    assert AuditEvent.objects.filter(action="framework.delete", details__summaries=1).exists()


def test_withdrawal_with_deletion_purges_summaries_and_history(
        cast: Any, small: Small, django_capture_on_commit_callbacks: Any) -> None:
    from participants.services.purge import participant_purge_start

    c = chart(cast, small)
    write(cast, "lead", c, "SU01", small, 0, "First")
    write(cast, "lead", c, "SU01", small, 1, "Second")
    write(cast, "lead", c, "ST01", small, 0, "Stays")
    su = small.people["SU01"]
    Participant.objects.filter(pk=su.pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    su.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        job = participant_purge_start(actor=cast.users["admin"], participant=su)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert job.result["removed: framework_summaries"] == 1
    assert job.result["removed: framework_summary_versions"] == 2
    assert not FrameworkCell.objects.filter(participant=su).exists()
    assert not FrameworkCellEdit.objects.filter(cell__participant=su).exists()
    assert FrameworkCell.objects.filter(participant=small.people["ST01"]).count() == 1


def test_export_as_a_job_and_large_charts_refuse_the_synchronous_file(
        cast: Any, small: Small, clients: Any, api: Any, monkeypatch: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    from jobs.models import Job

    c = chart(cast, small)
    write(cast, "lead", c, "ST01", small, 0, "Dropped calls")
    page = f"/studies/{cast.study.pk}/matrices/framework/{c.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["lead"].post(page + "export/xlsx/")
    assert r.status_code == 302
    job = Job.objects.get(kind=services.EXPORT_KIND)
    assert r["Location"] == f"/studies/{cast.study.pk}/jobs/{job.pk}/"
    assert job.status == "done", job.error
    assert job.result == {"participants": 3, "themes": 1}
    wb = load_workbook(job.result_file.path)
    assert wb.sheetnames == ["Chart", "Seeing each other"]
    assert any(row[3] == "Dropped calls" for row in wb["Seeing each other"].iter_rows(values_only=True))
    assert AuditEvent.objects.filter(action="framework.export", details__job=job.pk).exists()
    # A large chart: no synchronous file (400 saying to use the job), and the page offers the job buttons.
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 2)
    assert clients["lead"].get(page + "export/xlsx/").status_code == 400
    r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/matrices/framework/{c.pk}/export/csv/")
    assert r.status_code == 400
    assert "POST" in r.json()["detail"]
    assert "Make the Excel workbook" in clients["lead"].get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/matrices/framework/{c.pk}/export/csv/")
    assert r.status_code == 202
    assert r.json()["kind"] == services.EXPORT_KIND
    assert Job.objects.get(pk=r.json()["id"]).status == "done"
