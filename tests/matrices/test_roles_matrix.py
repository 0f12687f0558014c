"""Role x scope contract of every matrices page and API endpoint (machinery: tests/roles.py).

{matrix} is the lead's, computed over the analysis world: a matrix is private to who asked for it (its
numbers are in their scope), so every other member gets 404 on it; exports need the export permission
(leads). PPI members never see matrices.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, POST_ONLY_GET, UNAUTH, Row, analysis_world, row_ids, run_row

S = "/studies/{study}"
A = "/api/v1/studies/{study}"
M = S + "/matrices/{matrix}"
AM = A + "/matrices/{matrix}"
#                       admin lead coder c_o_s ppi  outsider anonymous
TEAM_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
OWN_MATRIX_PAGE = (404, 200, 404, 404, 404, 404, LOGIN)
OWN_MATRIX_API = (404, 200, 404, 404, 404, 404, UNAUTH)
ASK = {"columns": "codes", "rows": "group", "coder": "all"}

MATRIX: list[Row] = [
    Row("matrix-list", "GET", S + "/matrices/", TEAM_PAGE),
    Row("matrix-list", "POST", S + "/matrices/", (403, 302, 302, 302, 403, 404, LOGIN), ASK),
    Row("matrix-detail", "GET", M + "/", OWN_MATRIX_PAGE),
    Row("matrix-refresh", "GET", M + "/refresh/", POST_ONLY_GET),
    Row("matrix-refresh", "POST", M + "/refresh/", (403, 302, 404, 404, 404, 404, LOGIN)),
    Row("matrix-cancel", "GET", M + "/cancel/", POST_ONLY_GET),
    # {matrix} is computed and has no job: the lead is told so on the page (302 back to it).
    Row("matrix-cancel", "POST", M + "/cancel/", (404, 302, 404, 404, 404, 404, LOGIN)),
    Row("matrix-cell", "GET", M + "/cell/?row=total&column=total", OWN_MATRIX_PAGE),
    Row("matrix-export", "GET", M + "/export/csv/", (403, 200, 403, 403, 404, 404, LOGIN)),
    Row("api-matrix-list", "GET", A + "/matrices/", (200, 200, 200, 200, 403, 404, UNAUTH)),
    # The lead already has this very matrix ({matrix}), fresh: it is reused (200); the coders' start a job.
    Row("api-matrix-list", "POST", A + "/matrices/", (403, 200, 202, 202, 403, 404, UNAUTH), {}),
    Row("api-matrix-detail", "GET", AM + "/", OWN_MATRIX_API),
    Row("api-matrix-refresh", "POST", AM + "/refresh/", (403, 200, 404, 404, 404, 404, UNAUTH)),
    Row("api-matrix-cancel", "POST", AM + "/cancel/", (404, 400, 404, 404, 404, 404, UNAUTH)),
    Row("api-matrix-cell", "GET", AM + "/cell/?row=total&column=total", OWN_MATRIX_API),
    Row("api-matrix-export", "GET", AM + "/export/xlsx/", (403, 200, 403, 403, 404, 404, UNAUTH)),
]


def _lead_matrix(cast: Any) -> Any:
    """The lead's code x group matrix over the world's study, computed."""
    from analysis.matrices import engine, selectors
    from analysis.matrices.models import Matrix

    lead, spec = cast.users["lead"], selectors.spec_parse({})
    result = engine.matrix_compute(user=lead, study_id=cast.study.pk, spec=spec)
    return Matrix.objects.create(study=cast.study, created_by=lead, spec=spec.as_dict(), key=spec.key,
                                 data_version=selectors.data_version(study_id=cast.study.pk),
                                 result=selectors.result_json(result))


@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any) -> None:
    values = analysis_world(cast)
    values["matrix"] = _lead_matrix(cast).pk
    run_row(row, cast, values)


# Framework charts: their rows and their world live beside this file; the guard reads MATRIX.
from tests.matrices.framework_roles import FRAMEWORK, test_framework_role_matrix  # noqa: E402, F401

MATRIX = MATRIX + FRAMEWORK
