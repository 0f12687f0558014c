"""Bands for number and date attributes: parsing and its errors, labels, and the SQL CASE putting each
participant in a band (values outside every band, not recorded or unreadable: their own row)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from analysis.matrices import bands, engine, selectors
from analysis.matrices.services import matrix_request
from participants.models import Participant
from participants.services.participants import attribute_create

from .conftest import Small


@pytest.mark.parametrize(("raw", "normal"), [
    ("18, 30, 45", "18,30,45"), (" 18;30 ", "18,30"), ("2.5,10", "2.5,10"), ("-5, 0, 5", "-5,0,5"),
    ("Year", "year"), ("quarter", "quarter"), ("2020-01-01, 2020-07-01", "2020-01-01,2020-07-01"), ("", ""),
    (None, ""), ("  ", ""),
])
def test_bands_parse(raw: Any, normal: str) -> None:
    assert bands.bands_parse(raw) == normal


@pytest.mark.parametrize(("raw", "says"), [
    ("30, 18", "must go up"), ("18, 18", "given twice"), ("18, 2020-01-01", "not a mix"), ("eighteen", "numbers or dates"),
    ("2020-02-30", "numbers or dates"), ("1e400", "numbers or dates"), ("x" * 501, "at most 500"), (["18"], "text"),
    (",".join(str(i) for i in range(30)), "At most 20"),
])
def test_bands_parse_refuses_with_a_clear_message(raw: Any, says: str) -> None:
    with pytest.raises(ValidationError) as exc:
        bands.bands_parse(raw)
    assert says in " ".join(exc.value.message_dict["bands"])


def test_labels() -> None:
    assert bands.band_order("18,30,45") == ["18–29", "30–44", "45 and over"]
    assert bands.band_order("2.5,10") == ["2.5 to under 10", "10 and over"]
    assert bands.band_order("2020-01-01,2020-07-01") == ["1 Jan 2020 – 30 Jun 2020", "From 1 Jul 2020"]


def _set(small: Small, **values: Any) -> None:
    for who, v in values.items():
        p = small.people[who]
        Participant.objects.filter(pk=p.pk).update(attributes={**p.attributes, "age": v[0], "interviewed": v[1]})


@pytest.mark.django_db
def test_number_bands_in_sql_with_an_outside_row(cast: Any, small: Small) -> None:
    attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Age", key="age", kind="number")
    # SU01 at an edge (30 is in 30–44), ST01 below every band, CA01 not recorded.
    _set(small, SU01=(30, "2020-03-31"), ST01=(17.5, "2021-11-02"), CA01=(None, None))
    spec = selectors.spec_parse({"rows": "attribute", "attribute": "age", "bands": "18, 30, 45"})
    selectors.spec_check(study_id=cast.study.pk, spec=spec)
    r = engine.matrix_compute(user=cast.users["lead"], study_id=cast.study.pk, spec=spec)
    assert [h.label for h in r.rows] == ["30–44", "Outside every band or not recorded"]
    assert r.row_bases == [1, 2]
    assert sum(c["segments"] for c in r.cells[0]) == 3  # SU01's three codings
    # A band's click-through uses the same CASE.
    from analysis.matrices.models import Matrix

    m = Matrix.objects.create(study=cast.study, created_by=cast.users["lead"], spec=spec.as_dict(), key=spec.key,
                              data_version="t", result=selectors.result_json(r))
    page = engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=0, column="total")
    assert {s.pseudonym for s in page.segments} == {"SU01"}


@pytest.mark.django_db
def test_date_bands_year_quarter_and_edges(cast: Any, small: Small) -> None:
    attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Interviewed", key="interviewed",
                     kind="date")
    _set(small, SU01=(30, "2020-03-31"), ST01=(17, "2021-11-02"), CA01=(40, "not a date"))

    def labels(b: str) -> list[str]:
        spec = selectors.spec_parse({"rows": "attribute", "attribute": "interviewed", "bands": b})
        return [h.label for h in engine.matrix_compute(user=cast.users["lead"], study_id=cast.study.pk,
                                                          spec=spec).rows]

    assert labels("year") == ["2020", "2021", "Outside every band or not recorded"]
    assert labels("quarter") == ["2020 Q1", "2021 Q4", "Outside every band or not recorded"]
    assert labels("2020-04-01, 2021-01-01") == ["From 1 Jan 2021", "Outside every band or not recorded"]


@pytest.mark.django_db
def test_bands_are_part_of_the_request_and_checked_against_the_kind(
        cast: Any, small: Small, django_capture_on_commit_callbacks: Any) -> None:
    attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Age", key="age", kind="number")
    lead, sid = cast.users["lead"], cast.study.pk
    with django_capture_on_commit_callbacks(execute=False):
        a, created_a = matrix_request(actor=lead, study_id=sid, raw={"rows": "attribute", "attribute": "age",
                                                                     "bands": "18,30"})
        b, created_b = matrix_request(actor=lead, study_id=sid, raw={"rows": "attribute", "attribute": "age",
                                                                     "bands": "18, 30"})
        c, created_c = matrix_request(actor=lead, study_id=sid, raw={"rows": "attribute", "attribute": "age",
                                                                     "bands": "18, 40"})
    assert created_a
    assert not created_b
    assert a.pk == b.pk
    assert created_c
    assert c.pk != a.pk
    assert a.spec["bands"] == "18,30"
    for raw, says in ((({"bands": "year"}), "holds numbers"), ({"attribute": "interview_mode", "bands": "18"},
                                                               "numbers or dates")):
        with pytest.raises(ValidationError) as exc:
            matrix_request(actor=lead, study_id=sid, raw={"rows": "attribute", "attribute": "age", **raw})
        assert says in " ".join(exc.value.message_dict["bands"])


@pytest.mark.django_db
def test_form_shows_the_band_error(cast: Any, small: Small, clients: Any) -> None:
    attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Age", key="age", kind="number")
    r = clients["lead"].post(f"/studies/{cast.study.pk}/matrices/", {
        "columns": "codes", "rows": "attribute", "attribute": "age", "coder": "all", "bands": "45, 30"})
    assert r.status_code == 200
    assert "Edges must go up: 30 comes after 45." in r.content.decode()


@pytest.mark.django_db
def test_transcript_filter_in_the_form_is_scoped_and_recorded(
        cast: Any, small: Small, clients: Any) -> None:
    from analysis.matrices.models import Matrix
    from analysis.matrices.services import matrix_compute_run
    from analysis.transcripts.models import Transcript

    url = f"/studies/{cast.study.pk}/matrices/"
    t_st = Transcript.objects.get(participant=small.people["ST01"])
    t_su = Transcript.objects.get(participant=small.people["SU01"])
    south = clients["coder_other_site"].get(url).content.decode()
    assert 'name="transcripts"' in south
    assert f'name="transcripts" value="{t_st.pk}"' in south
    assert f'name="transcripts" value="{t_su.pk}"' not in south  # a North transcript: not even its name is offered
    assert "checklist-filter.js" in south
    r = clients["lead"].post(url, {"columns": "codes", "rows": "group", "coder": "all",
                                   "transcripts": [str(t_st.pk)]})
    assert r.status_code == 302
    m = Matrix.objects.get(created_by=cast.users["lead"])
    assert m.spec["transcript_ids"] == [t_st.pk]
    # The job's work in this process (the test transaction never commits, so no worker is sent it; with
    # REDIS_URL set an eager run would not happen either).
    matrix_compute_run(job_id=m.job_id)
    m.refresh_from_db()
    assert m.result is not None
    assert [row["label"] for row in m.result["rows"]] == ["Staff"]
    assert "1 transcript(s)" in clients["lead"].get(r["Location"]).content.decode()
