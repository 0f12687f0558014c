"""The matrix engine on a small study whose every number is known."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from analysis.coding.models import Assignment
from analysis.coding.services.codings import coding_create
from analysis.matrices import selectors
from analysis.matrices.engine import matrix_compute
from analysis.matrices.selectors import spec_parse
from participants.models import Participant

from .conftest import Small

pytestmark = pytest.mark.django_db


def table(result: Any, measure: str) -> dict[tuple[str, str], Any]:
    return {(r.label, c.label): result.cells[i][j][measure]
            for i, r in enumerate(result.rows) for j, c in enumerate(result.columns)}


def compute(cast: Any, role: str = "lead", **raw: Any) -> Any:
    return matrix_compute(user=cast.users[role], study_id=cast.study.pk, spec=spec_parse(raw))


def test_code_by_group_counts_participants_segments_characters_and_share(cast: Any, small: Small) -> None:
    r = compute(cast)
    assert [c.label for c in r.columns] == ["Loss of non-verbal cues", "Technology problems", "Carers excluded"]
    # Withdrawn-retain CA01 counts; withdrawn-delete CA02 never appears (not in the base either).
    assert {h.label for h in r.rows} == {"Service user", "Carer", "Staff"}
    segs = table(r, "segments")
    assert segs[("Service user", "Loss of non-verbal cues")] == 2
    assert segs[("Service user", "Technology problems")] == 1
    assert segs[("Staff", "Technology problems")] == 2
    assert segs[("Carer", "Carers excluded")] == 1
    parts = table(r, "participants")
    assert parts[("Service user", "Loss of non-verbal cues")] == 1
    assert parts[("Carer", "Loss of non-verbal cues")] == 0
    chars = table(r, "characters")
    assert chars[("Carer", "Carers excluded")] == len("I was left outside the call.")
    assert table(r, "share")[("Carer", "Carers excluded")] == 1.0
    assert r.row_bases == [1] * 3
    assert r.total["segments"] == 7
    assert r.total["participants"] == 3
    # Column totals are distinct participants across rows, not sums of shares.
    assert [t["segments"] for t in r.column_totals] == [3, 3, 1]
    assert [t["participants"] for t in r.row_totals] == [1, 1, 1]


def test_theme_columns_count_the_codings_of_their_codes(cast: Any, small: Small) -> None:
    r = compute(cast, columns="themes")
    assert [c.label for c in r.columns] == ["Seeing each other"]
    segs = table(r, "segments")
    assert segs[("Service user", "Seeing each other")] == 2
    assert segs[("Staff", "Seeing each other")] == 1
    assert segs[("Carer", "Seeing each other")] == 1


def test_rows_by_site_participant_and_attribute(cast: Any, small: Small) -> None:
    Participant.objects.filter(pk=small.people["ST01"].pk).update(attributes={"interview_mode": "video"})
    by_site = table(compute(cast, rows="site"), "segments")
    assert by_site[("North Trust", "Loss of non-verbal cues")] == 2
    assert by_site[("South Trust", "Technology problems")] == 2
    by_person = table(compute(cast, rows="participant"), "segments")
    assert by_person[("SU01", "Loss of non-verbal cues")] == 2
    assert ("CA02", "Carers excluded") not in by_person
    by_mode = table(compute(cast, rows="attribute", attribute="interview_mode"), "segments")
    assert by_mode[("video", "Technology problems")] == 2
    assert by_mode[("telephone", "Technology problems")] == 1


def test_filters_coder_site_group_and_interviewer_turns(cast: Any, small: Small) -> None:
    only_coder = table(compute(cast, coder=str(cast.users["coder"].pk)), "segments")
    assert only_coder[("Service user", "Technology problems")] == 1
    assert only_coder[("Service user", "Loss of non-verbal cues")] == 0
    south = compute(cast, site_ids=[cast.south.pk])
    assert [h.label for h in south.rows] == ["Staff"]
    carers = compute(cast, group_ids=[cast.group("carer").pk])
    assert carers.total["segments"] == 1
    skipped = table(compute(cast, skip_interviewer=True), "segments")
    assert skipped[("Staff", "Technology problems")] == 1


def test_agreed_counts_coder_a_passages_that_coder_b_also_coded(cast: Any, small: Small) -> None:
    lead, coder = cast.users["lead"], cast.users["coder"]
    t = small.codings[0].transcript
    Assignment.objects.create(study=cast.study, transcript=t, coder_a=lead, coder_b=coder, created_by=lead)
    words = "On the phone you cannot see"
    start = t.text.index(words)
    coding_create(actor=coder, study_id=cast.study.pk, transcript_id=t.pk, code_id=small.codes["cues"].pk,
                  start=start, end=start + len(words))
    agreed = compute(cast, coder="agreed")
    assert table(agreed, "segments")[("Service user", "Loss of non-verbal cues")] == 1
    assert agreed.total["segments"] == 1


def test_scope_applies_in_sql(cast: Any, small: Small) -> None:
    r = compute(cast, role="coder_other_site")
    assert [h.label for h in r.rows] == ["Staff"]
    assert r.total["segments"] == 3


def test_queries_do_not_grow_with_the_codings(cast: Any, small: Small, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(14):
        compute(cast, columns="themes", rows="participant")


@pytest.mark.parametrize("raw", [
    {"columns": "people"}, {"rows": "x"}, {"rows": "attribute"}, {"column_ids": ["a"]},
    {"column_ids": [2**70]}, {"coder": "x\x00"}, {"attribute": "a" * 60, "rows": "attribute"},
    {"site_ids": list(range(1, 600))}, {"coder": "-1"},
])
def test_bad_requests_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec_parse(raw)


def test_equal_requests_have_equal_keys() -> None:
    assert spec_parse({"column_ids": "3,1,3"}).key == spec_parse({"column_ids": [1, 3]}).key
    assert spec_parse({}).key != spec_parse({"rows": "site"}).key


def test_data_version_moves_with_codings_themes_and_consent(cast: Any, small: Small) -> None:
    sid = cast.study.pk
    v0 = selectors.data_version(study_id=sid)
    small.codings[1].delete()
    v1 = selectors.data_version(study_id=sid)
    assert v1 != v0
    small.theme.codes.remove(small.codes["excluded"])
    v2 = selectors.data_version(study_id=sid)
    assert v2 != v1


@pytest.mark.parametrize("role", ["admin", "lead", "coder", "coder_other_site"])
def test_the_matrix_sees_exactly_the_codings_the_reading_pages_show(cast: Any, small: Small, role: str) -> None:
    from analysis.coding.models import Assignment
    from analysis.coding.selectors.codings import codings_visible

    # A blind double coding in progress: the coder must not count the lead's codings on SU01's transcript.
    Assignment.objects.create(study=cast.study, transcript=small.codings[0].transcript, coder_a=cast.users["lead"],
                              coder_b=cast.users["coder"], created_by=cast.users["lead"])
    user, sid = cast.users[role], cast.study.pk
    expected = set(codings_visible(user=user, study_id=sid).filter(lost=False).values_list("pk", flat=True))
    got = set(selectors._base(user=user, study_id=sid, spec=spec_parse({})).values_list("pk", flat=True))
    assert got == expected
    assert compute(cast, role=role).total["segments"] == len(expected)
