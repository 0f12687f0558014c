"""Asking for a matrix through the pages and the API: the job, reuse, staleness, the heatmap, the
click-through, exports and what each role may do."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from analysis.coding.services.codings import coding_create
from analysis.matrices.models import Matrix
from analysis.matrices.services import matrix_request
from jobs.models import Job, JobStatus

from .conftest import Small

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process() -> Any:
    """The job runs in this process (also with REDIS_URL set): the tests read its outcome inside their
    own transaction, which a worker process cannot see. Jobs are sent by task name, so eager mode."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def ask(cast: Any, role: str = "lead", capture: Any = None, **raw: Any) -> Matrix:
    with capture(execute=True):
        m, _ = matrix_request(actor=cast.users[role], study_id=cast.study.pk, raw=raw)
    m.refresh_from_db()
    return m


def test_page_asks_runs_the_job_and_shows_a_heatmap_with_totals(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    url = f"/studies/{cast.study.pk}/matrices/"
    page = clients["coder"].get(url)
    assert page.status_code == 200
    assert "Loss of non-verbal cues" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["coder"].post(url, {"columns": "codes", "rows": "group", "coder": "all"})
    assert r.status_code == 302
    matrix = Matrix.objects.get(created_by=cast.users["coder"])
    assert matrix.job is not None
    assert Job.objects.get(pk=matrix.job.pk).status == JobStatus.DONE
    html = clients["coder"].get(r["Location"] + "?measure=segments").content.decode()
    assert "<table class=\"heatmap\">" in html
    assert 'scope="row">Service user</th>' in html
    assert "heat-" in html
    assert "style=" not in html
    # Row and column totals, and the whole: 7 segments (CA02 withdrew with deletion and is not there).
    assert re.search(r'<td class="total">7</td></tr></tfoot>', html)
    assert "CA02" not in html


def test_identical_requests_reuse_and_a_change_makes_it_stale(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    first = ask(cast, capture=django_capture_on_commit_callbacks, rows="site")
    again = ask(cast, capture=django_capture_on_commit_callbacks, rows="site")
    assert again.pk == first.pk
    assert Job.objects.filter(kind="matrix").count() == 1
    # A new coding: the stored matrix says it is out of date and one click computes it again.
    t = small.codings[0].transcript
    coding_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t.pk,
                  code_id=small.codes["tech"].pk, start=0, end=9)
    url = f"/studies/{cast.study.pk}/matrices/{first.pk}/"
    assert "Out of date" in clients["lead"].get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["lead"].post(url + "refresh/")
    fresh = Matrix.objects.exclude(pk=first.pk).get()
    assert r["Location"].endswith(f"/matrices/{fresh.pk}/")
    assert "Out of date" not in clients["lead"].get(r["Location"]).content.decode()


def test_two_identical_requests_at_once_share_one_row(cast: Any, small: Small) -> None:
    """The second insert meets the unique constraint and reuses the first (no second job)."""
    from analysis.matrices import selectors

    spec = selectors.spec_parse({})
    version = selectors.data_version(study_id=cast.study.pk)
    Matrix.objects.create(study=cast.study, created_by=cast.users["lead"], spec=spec.as_dict(), key=spec.key,
                          data_version=version)
    _m, created = matrix_request(actor=cast.users["lead"], study_id=cast.study.pk, raw={})
    assert not created
    assert Matrix.objects.count() == 1
    assert not Job.objects.filter(kind="matrix").exists()


def test_cell_click_through_pages_segments_with_context_and_consent(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, capture=django_capture_on_commit_callbacks, columns="themes")
    rows = [r["label"] for r in m.result["rows"]]
    base = f"/studies/{cast.study.pk}/matrices/{m.pk}/cell/"
    su = clients["lead"].get(base, {"row": rows.index("Service user"), "column": 0}).content.decode()
    assert "On the phone you cannot see if someone is tearful." in su
    assert "line 4" in su
    # Who coded each segment is named (two coders' codings of one passage would read as a duplicate).
    coder = small.codings[0].coder.display_name
    assert f"coded by {coder}" in su
    assert f"/transcripts/{small.codings[0].transcript_id}/?at=" in su
    carer = clients["lead"].get(base, {"row": rows.index("Carer"), "column": 0}).content.decode()
    # CA01 withdrew and kept their data: the segment counts, its words are not shown.
    assert "CA01" in carer
    assert "left outside the call" not in carer
    assert "no longer shown" in carer
    for bad in ({"row": 99, "column": 0}, {"row": "x", "column": 0}, {"row": 0, "column": 0, "page": "9" * 30}):
        assert clients["lead"].get(base, bad).status_code == 400
    api = cast  # the same through the API
    data = clients["lead"].get(f"/api/v1/studies/{api.study.pk}/matrices/{m.pk}/cell/",
                               {"row": rows.index("Service user"), "column": 0}).json()
    assert data["total"] == 2
    assert data["segments"][0]["shown"] is True


def test_exports_keep_numbers_as_numbers_and_text_formula_safe(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    from analysis.coding.services.codebook import code_create

    code_create(actor=cast.users["lead"], study_id=cast.study.pk, name="=HYPERLINK(1)")
    m = ask(cast, capture=django_capture_on_commit_callbacks)
    base = f"/studies/{cast.study.pk}/matrices/{m.pk}/export/"
    text = clients["lead"].get(base + "csv/", {"measure": "segments"}).content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert "'=HYPERLINK(1)" in table[0]
    assert table[0][0] == "Participant group"  # what the rows are, as on the page (it said "Row")
    assert table[-1][0] == "Total"
    assert table[-1][-1] == "7"
    wb = load_workbook(io.BytesIO(clients["lead"].get(base + "xlsx/").content))
    assert wb.sheetnames == ["Participants", "Segments", "Share", "Characters", "Summary"]
    summary = [r[0] for r in wb["Summary"].iter_rows(values_only=True)]
    assert any(str(line).startswith("'=HYPERLINK(1): 0 of 1 participants in Service user (0 %)") for line in summary)
    ws = wb["Segments"]
    assert ws.cell(row=2, column=1).value == "Participant group"
    assert ws.cell(row=2, column=len(table[0]) - 1).value == "'=HYPERLINK(1)"
    assert isinstance(ws.cell(row=3, column=2).value, int)
    svg = clients["lead"].get(base + "svg/").content.decode()
    assert svg.startswith("<svg")
    assert "<title" in svg
    assert clients["lead"].get(base + "pdf/").status_code == 400
    assert clients["coder"].get(base + "csv/").status_code == 403


def test_api_request_poll_and_reuse(cast: Any, small: Small, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    url = f"/api/v1/studies/{cast.study.pk}/matrices/"
    with django_capture_on_commit_callbacks(execute=True):
        r = api["coder"].post(url, {"columns": "themes", "rows": "participant"}, format="json")
    assert r.status_code == 202, r.content
    detail = api["coder"].get(f"{url}{r.json()['id']}/").json()
    assert detail["status"] == "done"
    assert detail["stale"] is False
    assert {row["label"] for row in detail["result"]["rows"]} == {"SU01", "ST01", "CA01"}
    assert api["coder"].post(url, {"columns": "themes", "rows": "participant"}, format="json").status_code == 200
    for bad in ({"columns": "x"}, {"column_ids": [2**70]}, {"rows": "attribute"}, {"coder": "a\x00"},
                {"site_ids": "nope"}):
        assert api["coder"].post(url, bad, format="json").status_code == 400, bad
    # Matrices are private to who asked: another member's id is a 404.
    assert api["lead"].get(f"{url}{r.json()['id']}/").status_code == 404


def test_scoped_coder_sees_only_their_site(cast: Any, small: Small, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, "coder_other_site", capture=django_capture_on_commit_callbacks)
    assert [r["label"] for r in m.result["rows"]] == ["Staff"]
    assert m.result["total"]["segments"] == 3


def test_a_queued_matrix_page_shows_no_template_comment(cast: Any, small: Small, clients: Any) -> None:
    # Not run: the job stays queued, as a user sees it in the first second.
    m, _ = matrix_request(actor=cast.users["lead"], study_id=cast.study.pk, raw={"rows": "site"})
    html = clients["lead"].get(f"/studies/{cast.study.pk}/matrices/{m.pk}/").content.decode()
    assert "Status:" in html
    assert "Cancel this matrix" in html
    assert "{#" not in html
    assert "#}" not in html


def test_heatmap_names_its_rows_and_each_cell_link_says_which_cell(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, capture=django_capture_on_commit_callbacks, columns="themes")
    html = clients["lead"].get(f"/studies/{cast.study.pk}/matrices/{m.pk}/").content.decode()
    assert '<th scope="col">Participant group</th>' in html
    assert '<th scope="col">Row</th>' not in html
    # A screen reader moving through the links hears the row and the column, not "1: segments of Staff".
    assert '<span class="visually-hidden"> – Staff, Seeing each other: read the segments</span>' in html
    assert ": segments of " not in html
    # The caption sits above the scrolling box too, which is a labelled, focusable region.
    assert 'tabindex="0" role="region" aria-label="The matrix as a table"' in html
    assert html.count("Darker cells hold larger numbers") == 2


def test_cell_page_repeats_the_cells_numbers_and_opens_the_coding_page_at_the_line(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, capture=django_capture_on_commit_callbacks, columns="themes")
    rows = [r["label"] for r in m.result["rows"]]
    base = f"/studies/{cast.study.pk}/matrices/{m.pk}/cell/"
    html = clients["lead"].get(base, {"row": rows.index("Service user"), "column": 0}).content.decode()
    assert "<dt>Participants with a coded segment</dt><dd>1</dd>" in html
    assert "<dt>Coded segments</dt><dd>2</dd>" in html
    assert "<dt>Share of the row&#x27;s participants</dt><dd>100%</dd>" in html
    t = small.codings[0].transcript_id
    assert re.search(rf'href="/studies/{cast.study.pk}/transcripts/{t}/code/\?line=\d+"', html)
    totals = clients["lead"].get(base, {"row": "total", "column": "total"}).content.decode()
    assert "<dt>Coded segments</dt>" in totals


def test_every_aria_describedby_on_the_matrix_form_names_an_element_of_the_page(
        cast: Any, small: Small, clients: Any) -> None:
    # Django 5 adds aria-describedby="id_<field>_helptext" itself; the hints were printed as "_hint".
    html = clients["lead"].get(f"/studies/{cast.study.pk}/matrices/").content.decode()
    refs = {r for v in re.findall(r'aria-describedby="([^"]+)"', html) for r in v.split()}
    assert "id_bands_helptext" in refs
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    assert refs <= ids, refs - ids
    # A lone tick box sits beside its label, as the tick boxes of a list do.
    assert re.search(r'<div class="field checkbox">\s*<input type="checkbox" name="skip_interviewer"', html)


def test_cancel_after_the_matrix_finished_says_so_and_is_no_error(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, capture=django_capture_on_commit_callbacks, rows="site")
    r = clients["lead"].post(f"/studies/{cast.study.pk}/matrices/{m.pk}/cancel/", follow=True)
    html = r.content.decode()
    assert "was finished before the cancel reached it" in html
    assert "already finished (done)" not in html
    assert "message-error" not in html


def test_exported_csv_and_pictures_name_their_measure_and_the_picture_its_matrix(
        cast: Any, small: Small, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    m = ask(cast, capture=django_capture_on_commit_callbacks, columns="themes")
    base = f"/studies/{cast.study.pk}/matrices/{m.pk}/export/"
    r = clients["lead"].get(base + "csv/", {"measure": "segments"})
    assert r["Content-Disposition"] == f'attachment; filename="matrix-{m.pk}-segments.csv"'
    svg = clients["lead"].get(base + "svg/").content.decode()
    assert "<title id=\"t\">Themes × participant groups, all coders – Participants with a coded segment</title>" in svg
    assert clients["lead"].get(base + "xlsx/")["Content-Disposition"].endswith(f'filename="matrix-{m.pk}.xlsx"')


def test_a_refused_request_names_the_form_field_the_person_saw() -> None:
    from django.core.exceptions import ValidationError

    from analysis.matrices.views import _on_form_fields

    exc = ValidationError({"column_ids": "At most 500 ids.", "site_ids": "No such id.", "coder": "Choose one."})
    assert set(_on_form_fields(exc, {"columns": "themes"}).error_dict) == {"themes", "sites", "coder"}
    assert set(_on_form_fields(exc, {"columns": "codes"}).error_dict) == {"codes", "sites", "coder"}


def test_cooccurrence_colours_are_scaled_to_the_pairs_not_the_diagonal() -> None:
    from analysis.matrices.exports import BINS, heat_bin, heat_peak

    def cell(n: int) -> dict[str, int]:
        return {"segments": n}

    cooc = {"kind": "cooccurrence", "cells": [[cell(900), cell(10), cell(2)], [cell(10), cell(400), cell(0)],
                                              [cell(2), cell(0), cell(50)]]}
    peak = heat_peak(cooc, "segments")
    assert peak == 10
    assert [heat_bin(n, peak) for n in (10, 2, 900)] == [BINS - 1, 1, BINS - 1]
    # An ordinary matrix has no diagonal: its largest cell sets the scale.
    assert heat_peak({**cooc, "kind": "matrix"}, "segments") == 900
    # Pairs that never overlap: the diagonal sets the scale rather than leaving every cell blank.
    lonely = {"kind": "cooccurrence", "cells": [[cell(5), cell(0)], [cell(0), cell(3)]]}
    assert heat_peak(lonely, "segments") == 5


def test_a_refused_matrix_form_says_so_at_its_top_with_a_link_to_the_field(cast: Any, small: Small,
                                                                          clients: Any) -> None:
    """The error sat on its field, a screen below the button: the page seemed not to have reacted."""
    r = clients["lead"].post(f"/studies/{cast.study.pk}/matrices/", {"columns": "codes", "rows": "attribute",
                                                                    "coder": "all"})
    html = r.content.decode()
    assert r.status_code == 200
    start = html.index('class="error-summary"')
    summary = html[start:html.index('<form method="post" novalidate>', start)]
    assert "There is a problem" in summary
    assert 'href="#id_attribute"' in summary
    assert "Choose the participant attribute for the rows." in summary
