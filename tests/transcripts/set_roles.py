"""Role x scope rows of the transcript-set pages and API (imported into this app's test_roles_matrix.py, whose
``MATRIX`` the global guard reads).

The world: the analysis world plus the lead's set "Remote interviews" holding SU01's transcript (North) and
ST01's (South). Sets are the team's: every member who reads transcripts sees the set (coder_other_site too,
counting only South), but only who made it, or a lead, changes it, so the coders and the admin get 403 on the
lead's set. PPI members: 403 on the list, 404 on a set by its id (policy.denial_hides_object). A new set's name
is unique in the study: coder_other_site (run before the coder and the lead) takes "Another set", so the others
are told the name is taken.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, POST_ONLY_GET, UNAUTH, Row, analysis_world, row_ids, run_row

S = "/studies/{study}/transcript-sets"
A = "/api/v1/studies/{study}/transcript-sets"
#                 admin lead coder c_o_s ppi  outsider anonymous
TEAM_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
SET_PAGE = (200, 200, 200, 200, 404, 404, LOGIN)
CHANGE_PAGE = (403, 200, 403, 403, 404, 404, LOGIN)
CHANGE_WRITE = (403, 302, 403, 403, 404, 404, LOGIN)
SET_API = (200, 200, 200, 200, 404, 404, UNAUTH)


def change_api(status: int) -> tuple[Any, ...]:
    return (403, status, 403, 403, 404, 404, UNAUTH)


SETS: list[Row] = [
    Row("transcript-set-list", "GET", S + "/", TEAM_PAGE),
    Row("transcript-set-list", "POST", S + "/", (403, 400, 400, 302, 403, 404, LOGIN), {"name": "Another set"}),
    Row("transcript-set-add", "GET", S + "/add/", POST_ONLY_GET),
    Row("transcript-set-add", "POST", S + "/add/", (403, 302, 403, 403, 403, 404, LOGIN),
        {"set": "{tset}", "transcripts": ["{t_north}"], "action": "add"}),
    Row("transcript-set-detail", "GET", S + "/{tset}/", SET_PAGE),
    Row("transcript-set-edit", "GET", S + "/{tset}/edit/", CHANGE_PAGE),
    Row("transcript-set-edit", "POST", S + "/{tset}/edit/", CHANGE_WRITE, {"name": "Remote talks"}),
    Row("transcript-set-remove", "GET", S + "/{tset}/remove/", POST_ONLY_GET),
    Row("transcript-set-remove", "POST", S + "/{tset}/remove/", CHANGE_WRITE, {"transcripts": ["{t_north}"]}),
    Row("transcript-set-delete", "GET", S + "/{tset}/delete/", CHANGE_PAGE),
    Row("transcript-set-delete", "POST", S + "/{tset}/delete/", CHANGE_WRITE),
    Row("api-transcript-set-list", "GET", A + "/", (200, 200, 200, 200, 403, 404, UNAUTH)),
    Row("api-transcript-set-list", "POST", A + "/", (403, 400, 400, 201, 403, 404, UNAUTH), {"name": "Another set"}),
    Row("api-transcript-set-detail", "GET", A + "/{tset}/", SET_API),
    Row("api-transcript-set-detail", "PATCH", A + "/{tset}/", change_api(200), {"name": "Remote talks"}),
    Row("api-transcript-set-detail", "DELETE", A + "/{tset}/", change_api(204)),
    Row("api-transcript-set-members", "GET", A + "/{tset}/transcripts/", SET_API),
    Row("api-transcript-set-members", "POST", A + "/{tset}/transcripts/", change_api(200),
        {"transcript_ids": ["{t_north}"]}),
    Row("api-transcript-set-members-remove", "POST", A + "/{tset}/transcripts/remove/", change_api(200),
        {"transcript_ids": ["{t_north}"]}),
]


def sets_world(cast: Any) -> dict[str, Any]:
    from analysis.transcripts.sets.services import transcript_set_create

    values = analysis_world(cast)
    tset = transcript_set_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Remote interviews",
                                 transcript_ids=[values["t_north"], values["t_south"]])
    return {**values, "tset": tset.pk}


@pytest.mark.parametrize("row", SETS, ids=row_ids(SETS))
def test_sets_role_matrix(row: Row, cast: Any) -> None:
    run_row(row, cast, sets_world(cast))
