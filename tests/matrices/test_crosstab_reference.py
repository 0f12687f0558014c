"""The crosstab's one statement over codings summed per participant and code gives exactly the numbers
of the plain four-aggregate form it replaced (kept here as the reference): every measure of every cell,
row total, column total and the whole, across row kinds, column kinds, coders, scope and interviewer
turns — including a code that serves two chosen themes, where a total must count its codings once."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db.models import Count, F, QuerySet, Sum

from analysis.coding.models import Coding
from analysis.matrices import selectors
from analysis.matrices.selectors import Spec, spec_parse
from analysis.themes.services.themes import theme_create

from .conftest import Small

pytestmark = pytest.mark.django_db


def _with_column(qs: QuerySet[Coding], spec: Spec, *, study_id: int) -> tuple[QuerySet[Coding], str]:
    if spec.columns == "themes":
        lookups: dict[str, Any] = {"code__themes__study_id": study_id}
        if spec.column_ids:
            lookups["code__themes__in"] = spec.column_ids
        return qs.filter(**lookups), "code__themes"
    if spec.column_ids:
        qs = qs.filter(code_id__in=spec.column_ids)
    return qs, "code_id"


MEASURES = {"participants": Count("transcript__participant_id", distinct=True),
            "segments": Count("id", distinct=True), "characters": Sum(F("end") - F("start"))}


def reference(*, user: Any, study_id: int, spec: Spec) -> dict[str, Any]:
    qs, col_path = _with_column(selectors._base(user=user, study_id=study_id, spec=spec), spec, study_id=study_id)
    qs = qs.annotate(row=selectors._row_expr(spec), col=F(col_path))

    def clean(r: dict[str, Any] | None) -> tuple[int, int, int]:
        return tuple(int((r or {}).get(k) or 0) for k in MEASURES)  # type: ignore[return-value]

    return {
        "cells": {(r["row"], r["col"]): clean(r) for r in qs.values("row", "col").annotate(**MEASURES).order_by()},
        "rows": {r["row"]: clean(r) for r in qs.values("row").annotate(**MEASURES).order_by()},
        "cols": {r["col"]: clean(r) for r in qs.values("col").annotate(**MEASURES).order_by()},
        "whole": clean(qs.aggregate(**MEASURES)),
    }


def actual(*, user: Any, study_id: int, spec: Spec) -> dict[str, Any]:
    r = selectors.crosstab_compute(user=user, study_id=study_id, spec=spec)

    def t(d: dict[str, Any]) -> tuple[int, int, int]:
        return (d["participants"], d["segments"], d["characters"])

    nonzero = lambda x: x != (0, 0, 0)  # noqa: E731 — the reference lists only rows and columns with codings
    return {
        "cells": {(row.id, col.id): t(r.cells[i][j]) for i, row in enumerate(r.rows) for j, col in enumerate(r.columns)
                  if nonzero(t(r.cells[i][j]))},
        "rows": {row.id: t(r.row_totals[i]) for i, row in enumerate(r.rows) if nonzero(t(r.row_totals[i]))},
        "cols": {col.id: t(r.column_totals[j]) for j, col in enumerate(r.columns) if nonzero(t(r.column_totals[j]))},
        "whole": t(r.total),
    }


def test_the_one_statement_equals_the_four_aggregates(cast: Any, small: Small) -> None:
    sid = cast.study.pk
    # A second theme sharing "Loss of non-verbal cues" with the first: a coding of it is in two columns.
    second = theme_create(actor=cast.users["lead"], study_id=sid, name="Being heard",
                          code_ids=[small.codes["cues"].pk, small.codes["tech"].pk])
    checked = 0
    for rows, columns, coder, skip, role in itertools.product(
            ("group", "site", "participant"), ("codes", "themes", "chosen themes", "chosen codes"),
            ("all", "lead", "agreed"), (False, True), ("lead", "coder", "coder_other_site")):
        raw: dict[str, Any] = {"rows": rows, "skip_interviewer": skip,
                               "coder": str(cast.users["lead"].pk) if coder == "lead" else coder}
        if columns == "chosen themes":
            raw.update(columns="themes", column_ids=[small.theme.pk, second.pk])
        elif columns == "chosen codes":
            raw.update(columns="codes", column_ids=[small.codes["cues"].pk, small.codes["excluded"].pk])
        else:
            raw["columns"] = columns
        spec = spec_parse(raw)
        user = cast.users[role]
        want = reference(user=user, study_id=sid, spec=spec)
        got = actual(user=user, study_id=sid, spec=spec)
        # Cells/totals for rows or columns outside the headers (e.g. a code not chosen) are not shown.
        assert got["cells"] == {k: v for k, v in want["cells"].items() if k in got["cells"] or v == (0, 0, 0)}, raw
        assert got["rows"] == want["rows"], (raw, role)
        assert got["whole"] == want["whole"], (raw, role)
        assert {k: v for k, v in want["cols"].items() if k in got["cols"]} == got["cols"], (raw, role)
        checked += 1
    assert checked == 3 * 4 * 3 * 2 * 3


def test_a_code_in_two_chosen_themes_counts_once_in_the_totals(cast: Any, small: Small) -> None:
    sid = cast.study.pk
    second = theme_create(actor=cast.users["lead"], study_id=sid, name="Being heard", code_ids=[small.codes["cues"].pk])
    r = selectors.crosstab_compute(user=cast.users["lead"], study_id=sid, spec=spec_parse(
        {"columns": "themes", "column_ids": [small.theme.pk, second.pk], "coder": "all"}))
    cues_codings = Coding.objects.filter(code=small.codes["cues"]).count()
    excluded_visible = 1  # CA01 (withdrawn, data kept); CA02 asked for deletion and never counts
    assert r.total["segments"] == cues_codings + excluded_visible
    assert sum(c["segments"] for c in r.column_totals) == 2 * cues_codings + excluded_visible
