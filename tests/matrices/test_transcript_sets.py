"""A matrix limited to a transcript set: it counts the set's transcripts the member may see, records their ids
(so the result stays reproducible), names the set, and shows as out of date when the set changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from analysis.matrices import selectors
from analysis.matrices.models import Matrix
from analysis.matrices.services import matrix_refresh, matrix_request
from analysis.transcripts.models import Transcript
from analysis.transcripts.sets.services import (
    transcript_set_add,
    transcript_set_create,
    transcript_set_delete,
    transcript_set_remove,
)

from .conftest import Small

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process() -> Any:
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def _t(small: Small, who: str) -> int:
    return Transcript.objects.get(participant=small.people[who]).pk


def _ask(cast: Any, capture: Any, role: str = "lead", **raw: Any) -> Matrix:
    with capture(execute=True):
        m, _ = matrix_request(actor=cast.users[role], study_id=cast.study.pk, raw=raw)
    m.refresh_from_db()
    return m


def test_a_set_counts_as_its_transcripts_and_records_them(cast: Any, small: Small,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    ids = sorted([_t(small, "SU01"), _t(small, "ST01")])
    tset = transcript_set_create(actor=cast.users["coder"], study_id=cast.study.pk, name="Remote", transcript_ids=ids)
    by_set = _ask(cast, django_capture_on_commit_callbacks, rows="group", transcript_set_id=tset.pk)
    by_ids = _ask(cast, django_capture_on_commit_callbacks, rows="group", transcript_ids=ids)
    assert by_set.spec["transcript_ids"] == ids
    assert by_set.spec["transcript_set_id"] == tset.pk
    assert by_set.result["cells"] == by_ids.result["cells"]
    assert by_set.result["total"] == by_ids.result["total"]
    # A request without a set keeps the key it had before sets existed (its fresh results are reused).
    assert "transcript_set_id" not in by_ids.spec or by_ids.spec["transcript_set_id"] is None
    assert selectors.spec_parse({"rows": "group"}).key == selectors.spec_parse({"rows": "group",
                                                                                 "transcript_set_id": None}).key
    assert not selectors.matrix_is_stale(matrix=by_set)


def test_changing_the_set_makes_the_matrix_stale_and_refresh_uses_it_as_it_is(
        cast: Any, small: Small, django_capture_on_commit_callbacks: Any) -> None:
    lead, sid = cast.users["lead"], cast.study.pk
    tset = transcript_set_create(actor=lead, study_id=sid, name="Remote", transcript_ids=[_t(small, "SU01")])
    m = _ask(cast, django_capture_on_commit_callbacks, transcript_set_id=tset.pk)
    transcript_set_add(actor=lead, study_id=sid, set_id=tset.pk, transcript_ids=[_t(small, "ST01")])
    assert selectors.matrix_is_stale(matrix=m)
    with django_capture_on_commit_callbacks(execute=True):
        fresh, created = matrix_refresh(actor=lead, study_id=sid, matrix_id=m.pk)
    fresh.refresh_from_db()
    assert created
    assert fresh.spec["transcript_ids"] == sorted([_t(small, "SU01"), _t(small, "ST01")])
    assert not selectors.matrix_is_stale(matrix=fresh)
    # Taking the transcript out again: the first matrix is current again (same ids), the refreshed one stale.
    transcript_set_remove(actor=lead, study_id=sid, set_id=tset.pk, transcript_ids=[_t(small, "ST01")])
    assert not selectors.matrix_is_stale(matrix=m)
    assert selectors.matrix_is_stale(matrix=fresh)
    # A deleted set: the stored ids still say what was counted, and a refresh counts them again.
    transcript_set_delete(actor=lead, study_id=sid, set_id=tset.pk)
    assert not selectors.matrix_is_stale(matrix=fresh)
    again, created = matrix_refresh(actor=lead, study_id=sid, matrix_id=fresh.pk)
    assert again.pk == fresh.pk
    assert not created


def test_a_scoped_coder_counts_only_their_scope(cast: Any, small: Small,
                                               django_capture_on_commit_callbacks: Any) -> None:
    tset = transcript_set_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Both sites",
                                 transcript_ids=[_t(small, "SU01"), _t(small, "ST01")])
    m = _ask(cast, django_capture_on_commit_callbacks, role="coder_other_site", transcript_set_id=tset.pk)
    assert m.spec["transcript_ids"] == [_t(small, "ST01")]
    assert [h["label"] for h in m.result["rows"]] == ["Staff"]


@pytest.mark.parametrize(("extra", "says"), [
    ({"transcript_set_id": 999_999}, "No such transcript set"),
    ({"transcript_set_id": "x"}, "whole numbers"),
    ({"transcript_set_id": "{set}", "transcript_ids": ["{t}"]}, "not both"),
    ({"transcript_set_id": "{empty}"}, "no transcripts you can count"),
    ({"transcript_set_id": "{north}", "role": "coder_other_site"}, "no transcripts you can count"),
])
def test_bad_set_requests_are_refused(cast: Any, small: Small, extra: dict[str, Any], says: str) -> None:
    lead, sid = cast.users["lead"], cast.study.pk
    values = {
        "set": transcript_set_create(actor=lead, study_id=sid, name="A", transcript_ids=[_t(small, "SU01")]).pk,
        "empty": transcript_set_create(actor=lead, study_id=sid, name="Empty").pk,
        "north": transcript_set_create(actor=lead, study_id=sid, name="North", transcript_ids=[_t(small, "SU01")]).pk,
        "t": _t(small, "ST01"),
    }
    raw = {k: (values[v[1:-1]] if isinstance(v, str) and v.startswith("{") else
               [values[x[1:-1]] for x in v] if isinstance(v, list) else v) for k, v in extra.items() if k != "role"}
    with pytest.raises(ValidationError) as exc:
        matrix_request(actor=cast.users[extra.get("role", "lead")], study_id=sid, raw=raw)
    assert says in " ".join(exc.value.messages)
    assert not Matrix.objects.exists()


def test_the_form_offers_sets_and_the_result_names_the_set(cast: Any, small: Small, clients: Any, api: Any,
                                                           django_capture_on_commit_callbacks: Any) -> None:
    sid = cast.study.pk
    tset = transcript_set_create(actor=cast.users["lead"], study_id=sid, name="Phone interviews",
                                 transcript_ids=[_t(small, "SU01"), _t(small, "ST01")])
    page = clients["coder_other_site"].get(f"/studies/{sid}/matrices/?transcript_set={tset.pk}").content.decode()
    # The South coder's count is their scope's: one transcript.
    assert f'<option value="{tset.pk}" selected>Phone interviews (1 transcript)</option>' in page
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["lead"].post(f"/studies/{sid}/matrices/", {"columns": "codes", "rows": "group", "coder": "all",
                                                              "transcript_set": tset.pk})
    assert r.status_code == 302, r.content.decode()[:3000]
    detail = clients["lead"].get(r["Location"]).content.decode()
    assert "transcript set “Phone interviews”: 2 transcripts" in detail
    with django_capture_on_commit_callbacks(execute=True):
        r = api["lead"].post(f"/api/v1/studies/{sid}/matrices/", {"rows": "site", "transcript_set_id": tset.pk},
                             format="json")
    assert r.status_code == 202, r.content
    assert r.json()["spec"]["transcript_set_id"] == tset.pk
    r = api["lead"].post(f"/api/v1/studies/{sid}/matrices/", {"rows": "site", "transcript_set_id": 2**63},
                         format="json")
    assert r.status_code == 400


def test_the_form_shows_a_set_error_on_the_set_field(cast: Any, small: Small, clients: Any) -> None:
    sid = cast.study.pk
    empty = transcript_set_create(actor=cast.users["lead"], study_id=sid, name="Nobody yet")
    r = clients["lead"].post(f"/studies/{sid}/matrices/", {"columns": "codes", "rows": "group", "coder": "all",
                                                          "transcript_set": empty.pk})
    html = r.content.decode()
    assert 'id="id_transcript_set_error"' in html
    assert "This transcript set has no transcripts you can count." in html
    assert "transcript_set_id" not in html
    assert not Matrix.objects.exists()
