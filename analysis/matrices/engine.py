"""The matrix engine's entry points: a request's rows decide which computation answers it.

Codes × codes is co-occurrence (``cooccurrence``); everything else is the crosstab of ``selectors``.
The dispatch lives here, above both, because co-occurrence builds on the crosstab's selectors (scope,
consent, headers, pages): with the dispatch inside ``selectors`` the two modules would import each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cooccurrence, selectors
from .models import Matrix
from .selectors import CellPage, Result, Spec


def matrix_steps(spec: Spec) -> int:
    """How many checkpoints ``matrix_compute`` passes (the job's progress total)."""
    return cooccurrence.STEPS if spec.rows == "codes" else selectors.CROSSTAB_STEPS


def matrix_compute(*, user: Any, study_id: int, spec: Spec, checkpoint: Callable[[int], None] | None = None) -> Result:
    """The matrix as the user may see it now. ``checkpoint(n)`` is called after each statement."""
    if spec.rows == "codes":
        return cooccurrence.cooccurrence_compute(user=user, study_id=study_id, spec=spec,
                                                 checkpoint=checkpoint or (lambda _n: None))
    return selectors.crosstab_compute(user=user, study_id=study_id, spec=spec, checkpoint=checkpoint)


def cell_segments(*, user: Any, study_id: int, matrix: Matrix, row: Any, column: Any, page: Any = 1,
                  per_page: int = selectors.SEGMENTS_PER_PAGE) -> CellPage:
    """One page of what stands behind a stored matrix's cell: its segments, or for co-occurrence the
    overlapping passages."""
    spec = selectors.spec_of(matrix)
    result = matrix.result or {}
    page_n = selectors.page_number(page)
    if spec.rows == "codes":
        return cooccurrence.cooccurrence_cell(user=user, study_id=study_id, spec=spec, result=result, row=row,
                                              column=column, page=page_n, per_page=per_page)
    return selectors.crosstab_cell(user=user, study_id=study_id, spec=spec, result=result, row=row, column=column,
                                   page_n=page_n, per_page=per_page)
