"""Role x scope rows of the framework chart pages and API (imported into this app's test_roles_matrix.py,
whose ``MATRIX`` the global guard reads).

The world: the analysis world (SU01 at North, ST01 at South) plus a theme over "Loss of non-verbal cues",
the lead's chart "Remote care" and the lead's summary of SU01 × the theme (version 1). Charts are shared by
the team; rows follow scope, so coder_other_site (South only) gets 404 on SU01's cell. Admins read charts
but do not write them; PPI members never see them (403 on the list, 404 on anything by id). Exports are the
leads' (the export permission), as for matrices.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, UNAUTH, Row, analysis_world, row_ids, run_row

S = "/studies/{study}/matrices/framework"
A = "/api/v1/studies/{study}/matrices/framework"
C = "/{chart}/cells/{su01}/{theme}/"
#              admin lead coder c_o_s ppi  outsider anonymous
TEAM_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
CHART_PAGE = (200, 200, 200, 200, 404, 404, LOGIN)
NORTH_CELL_PAGE = (200, 200, 200, 404, 404, 404, LOGIN)
NORTH_CELL_API = (200, 200, 200, 404, 404, 404, UNAUTH)

FRAMEWORK: list[Row] = [
    Row("framework-list", "GET", S + "/", TEAM_PAGE),
    Row("framework-list", "POST", S + "/", (403, 302, 302, 302, 403, 404, LOGIN), {"name": "Another chart"}),
    Row("framework-detail", "GET", S + "/{chart}/", CHART_PAGE),
    # Who made the chart (the lead) or a lead may delete it; the coders may write but not delete it.
    Row("framework-delete", "GET", S + "/{chart}/delete/", (403, 200, 403, 403, 404, 404, LOGIN)),
    Row("framework-delete", "POST", S + "/{chart}/delete/", (403, 302, 403, 403, 404, 404, LOGIN)),
    Row("framework-cell", "GET", S + C, NORTH_CELL_PAGE),
    # Everyone sends version 1, the version they read: the coder (who runs before the lead) saves version 2,
    # so the lead's version 1 is stale and answers 409 with the coder's text: the conflict is the contract.
    Row("framework-cell", "POST", S + C, (403, 409, 302, 404, 404, 404, LOGIN), {"summary": "Misses faces.", "version": 1}),
    Row("framework-export", "GET", S + "/{chart}/export/xlsx/", (403, 200, 403, 403, 404, 404, LOGIN)),
    Row("framework-export", "POST", S + "/{chart}/export/csv/", (403, 302, 403, 403, 404, 404, LOGIN)),
    Row("api-framework-list", "GET", A + "/", (200, 200, 200, 200, 403, 404, UNAUTH)),
    Row("api-framework-list", "POST", A + "/", (403, 201, 201, 201, 403, 404, UNAUTH), {"name": "Another chart"}),
    Row("api-framework-detail", "GET", A + "/{chart}/", (200, 200, 200, 200, 404, 404, UNAUTH)),
    Row("api-framework-detail", "DELETE", A + "/{chart}/", (403, 204, 403, 403, 404, 404, UNAUTH)),
    Row("api-framework-cell", "GET", A + C, NORTH_CELL_API),
    Row("api-framework-cell", "PUT", A + C, (403, 409, 200, 404, 404, 404, UNAUTH),
        {"summary": "Misses faces.", "version": 1}),
    Row("api-framework-segments", "GET", A + C + "segments/", NORTH_CELL_API),
    Row("api-framework-export", "GET", A + "/{chart}/export/csv/", (403, 200, 403, 403, 404, 404, UNAUTH)),
    Row("api-framework-export", "POST", A + "/{chart}/export/xlsx/", (403, 202, 403, 403, 404, 404, UNAUTH)),
]


def framework_world(cast: Any) -> dict[str, Any]:
    from analysis.matrices.framework.services import framework_cell_write, framework_chart_create
    from analysis.themes.services.themes import theme_create

    values = analysis_world(cast)
    lead, sid = cast.users["lead"], cast.study.pk
    theme = theme_create(actor=lead, study_id=sid, name="Seeing each other", code_ids=[values["code"]])
    chart = framework_chart_create(actor=lead, study_id=sid, name="Remote care")
    framework_cell_write(actor=lead, study_id=sid, chart_id=chart.pk, participant_id=values["su01"],
                         theme_id=theme.pk, version=0, summary="Hard to read feelings on the phone.")
    return {**values, "theme": theme.pk, "chart": chart.pk}


@pytest.mark.parametrize("row", FRAMEWORK, ids=row_ids(FRAMEWORK))
def test_framework_role_matrix(row: Row, cast: Any) -> None:
    run_row(row, cast, framework_world(cast))
