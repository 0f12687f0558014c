"""Role x scope contract of the team's comments on codes and of the notifications (machinery: tests/roles.py).

Codes are study-wide: every analyst (coder_other_site too) reads their comments; leads and coders write
them, the admin reads only. A PPI member may not know a code exists: 404 on every code URL, never 403.
``{comment}`` is the coder's comment on the code, so the coder (tried before the lead) may change it and
the lead may not. Edit, delete and resolve pages of a comment are the board's (tests/test_roles_matrix.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, POST_ONLY_GET, UNAUTH, Row, row_ids, run_row

S = "/studies/{study}"
A = "/api/v1/studies/{study}"
AC = A + "/codes/{code}/comments"

#                     admin lead coder c_o_s ppi  outsider anonymous
EVERY_MEMBER_PAGE = (200, 200, 200, 200, 200, 404, LOGIN)
EVERY_MEMBER_API = (200, 200, 200, 200, 200, 404, UNAUTH)

MATRIX: list[Row] = [
    Row("code-comment-create", "GET", S + "/codebook/{code}/comments/", POST_ONLY_GET),
    Row("code-comment-create", "POST", S + "/codebook/{code}/comments/", (403, 302, 302, 302, 404, 404, LOGIN),
        {"body": "Does crying on video count here?"}),
    Row("notifications", "GET", S + "/notifications/", EVERY_MEMBER_PAGE),
    Row("api-code-comment-list", "GET", AC + "/", (200, 200, 200, 200, 404, 404, UNAUTH)),
    Row("api-code-comment-list", "POST", AC + "/", (403, 201, 201, 201, 404, 404, UNAUTH),
        {"body": "Does crying on video count here?"}),
    Row("api-code-comment-detail", "PATCH", AC + "/{comment}/", (403, 403, 200, 403, 404, 404, UNAUTH),
        {"body": "Changed my mind"}),
    # Its author (the coder, before the lead) deletes it; a lead may too (already deleted: nothing more).
    Row("api-code-comment-detail", "DELETE", AC + "/{comment}/", (403, 204, 204, 403, 404, 404, UNAUTH)),
    Row("api-code-comment-resolve", "POST", AC + "/{comment}/resolve/", (403, 200, 403, 403, 404, 404, UNAUTH),
        {"resolved": True}),
    Row("api-notifications", "GET", A + "/notifications/", EVERY_MEMBER_API),
    Row("api-digest", "GET", A + "/notifications/digest/", EVERY_MEMBER_API),
    Row("api-digest", "PUT", A + "/notifications/digest/", EVERY_MEMBER_API, {"every": "weekly"}),
]


@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any) -> None:
    from analysis.coding.services.codebook import code_create
    from analysis.themes.services.comments import comment_create

    sid = cast.study.pk
    code = code_create(actor=cast.users["lead"], study_id=sid, name="Loss of non-verbal cues")
    comment = comment_create(actor=cast.users["coder"], study_id=sid, code_id=code.pk, body="Tears count?")
    run_row(row, cast, {"study": sid, "code": code.pk, "comment": comment.pk})
