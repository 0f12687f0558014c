"""Role x scope contract of every coding page and API endpoint (machinery: tests/roles.py).

The transcript, its coding and memo (both the lead's: a coder may change only their own) are SU01's (North Trust):
coder_other_site (South only) gets 404 on them. Codes are study-wide: every analyst sees them. The
transcript is double coded by the coder and the lead (the lead alone coded one sentence: {key}).
A PPI member lacks the analysis permissions: 403 on pages, 404 when asking for an object by its id.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, POST_ONLY_GET, UNAUTH, Row, analysis_world, row_ids, run_row

S = "/studies/{study}"
A = "/api/v1/studies/{study}"
C = S + "/codebook/{code}"
AC = A + "/codes/{code}"
T = S + "/transcripts/{t_north}"
AT = A + "/transcripts/{t_north}"
D = A + "/assignments/{t_north}"

#                       admin lead coder c_o_s ppi  outsider anonymous
READERS_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
CODE_PAGE = (200, 200, 200, 200, 404, 404, LOGIN)
NORTH_PAGE = (200, 200, 200, 404, 404, 404, LOGIN)
EDITOR_PAGE = (403, 200, 403, 403, 403, 404, LOGIN)
EDITOR_WRITE = (403, 302, 403, 403, 403, 404, LOGIN)
CODE_EDITOR_PAGE = (403, 200, 403, 403, 404, 404, LOGIN)
CODE_EDITOR_WRITE = (403, 302, 403, 403, 404, 404, LOGIN)
READERS_API = (200, 200, 200, 200, 403, 404, UNAUTH)
CODE_API = (200, 200, 200, 200, 404, 404, UNAUTH)
NORTH_API = (200, 200, 200, 404, 404, 404, UNAUTH)


def editor_api(status: int) -> tuple[Any, ...]:
    return (403, status, 403, 403, 403, 404, UNAUTH)


def code_editor_api(status: int) -> tuple[Any, ...]:
    return (403, status, 403, 403, 404, 404, UNAUTH)


MATRIX: list[Row] = [
    # Codebook pages
    Row("codebook", "GET", S + "/codebook/", READERS_PAGE),
    Row("code-create", "GET", S + "/codebook/new/", EDITOR_PAGE),
    Row("code-create", "POST", S + "/codebook/new/", EDITOR_WRITE, {"name": "Waiting times", "colour": "#005eb8"}),
    Row("codebook-import", "GET", S + "/codebook/import/", EDITOR_PAGE),
    Row("codebook-import", "POST", S + "/codebook/import/", (403, 400, 403, 403, 403, 404, LOGIN)),  # no file
    Row("codebook-export", "GET", S + "/codebook/export.csv", (403, 200, 403, 403, 403, 404, LOGIN)),
    Row("code-detail", "GET", C + "/", CODE_PAGE),
    Row("code-edit", "GET", C + "/edit/", CODE_EDITOR_PAGE),
    Row("code-edit", "POST", C + "/edit/", CODE_EDITOR_WRITE,
        {"name": "Missing faces", "colour": "#005eb8", "version": 1, "is_codable": "on"}),
    Row("code-move", "GET", C + "/move/", CODE_EDITOR_PAGE),
    Row("code-move", "POST", C + "/move/", CODE_EDITOR_WRITE, {"parent": "{other_code}"}),
    Row("code-merge", "GET", C + "/merge/", CODE_EDITOR_PAGE),
    Row("code-merge", "POST", C + "/merge/", CODE_EDITOR_WRITE, {"target": "{other_code}", "confirm": "on"}),
    Row("code-delete", "GET", C + "/delete/", CODE_EDITOR_PAGE),
    Row("code-delete", "POST", C + "/delete/", CODE_EDITOR_WRITE, {"confirm": "on"}),
    Row("code-segments", "GET", C + "/segments/", CODE_PAGE),
    # Coding, memos and double coding pages
    Row("coding-page", "GET", T + "/code/", NORTH_PAGE),
    Row("coding-stream", "GET", T + "/code/stream/", NORTH_PAGE),
    Row("coding-disagreements", "GET", T + "/disagreements/", NORTH_PAGE),
    Row("disagreement-comment", "GET", T + "/disagreements/{key}/comments/", POST_ONLY_GET),
    # The two coders of the pair and the lead (who manages pairs) discuss; the admin reads only.
    Row("disagreement-comment", "POST", T + "/disagreements/{key}/comments/", (403, 302, 302, 404, 404, 404, LOGIN),
        {"body": "I read this as distress"}),
    Row("disagreement-resolve", "GET", T + "/disagreements/{key}/resolve/", POST_ONLY_GET),
    Row("disagreement-resolve", "POST", T + "/disagreements/{key}/resolve/", (403, 302, 302, 404, 404, 404, LOGIN),
        {"outcome": "both", "note": "Agreed to differ", "confirmed": "1"}),
    Row("memo-list", "GET", S + "/memos/", READERS_PAGE),
    Row("memo-list", "POST", S + "/memos/", (403, 302, 302, 302, 403, 404, LOGIN), {"title": "Waiting"}),
    # The lead's memo: its author changes it (the coder may not: 403), out of scope or board-only is 404.
    Row("memo-edit", "GET", S + "/memos/{memo}/edit/", (403, 200, 403, 404, 404, 404, LOGIN)),
    Row("memo-edit", "POST", S + "/memos/{memo}/edit/", (403, 302, 403, 404, 404, 404, LOGIN),
        {"title": "Tears, again", "body": "Second thoughts"}),
    Row("memo-delete", "GET", S + "/memos/{memo}/delete/", (403, 200, 403, 404, 404, 404, LOGIN)),
    Row("memo-delete", "POST", S + "/memos/{memo}/delete/", (403, 302, 403, 404, 404, 404, LOGIN)),
    Row("double-coding", "GET", S + "/double-coding/", READERS_PAGE),
    Row("double-coding", "POST", S + "/double-coding/", (403, 302, 403, 403, 403, 404, LOGIN),
        {"action": "assign", "transcript": "{t_south}", "coder_a": "{coder}", "coder_b": "{lead}"}),
    # Codebook API
    Row("api-code-list", "GET", A + "/codes/", READERS_API),
    Row("api-code-list", "POST", A + "/codes/", editor_api(201), {"name": "Waiting times"}),
    Row("api-code-tree", "GET", A + "/codes/tree/", READERS_API),
    Row("api-code-import", "POST", A + "/codes/import/", editor_api(400), {}),
    Row("api-code-export", "GET", A + "/codes/export/", editor_api(200)),
    Row("api-code-detail", "GET", AC + "/", CODE_API),
    Row("api-code-detail", "PATCH", AC + "/", code_editor_api(200), {"name": "Missing faces", "version": 1}),
    Row("api-code-detail", "DELETE", AC + "/?confirm=true", code_editor_api(204)),
    Row("api-code-move", "POST", AC + "/move/", code_editor_api(200), {"parent": "{other_code}"}),
    Row("api-code-merge", "POST", AC + "/merge/", code_editor_api(200), {"target": "{other_code}"}),
    Row("api-code-segments", "GET", AC + "/segments/", CODE_API),
    # Codings API
    Row("api-coding-list", "GET", AT + "/codings/", NORTH_API),
    Row("api-coding-list", "POST", AT + "/codings/", (403, 201, 201, 404, 404, 404, UNAUTH),
        {"code": "{other_code}", "start": 0, "end": 9}),
    Row("api-coding-bulk-delete", "POST", AT + "/codings/delete/", (403, 200, 403, 404, 404, 404, UNAUTH),
        {"ids": ["{coding}"]}),
    Row("api-coding-events", "GET", AT + "/codings/events/", NORTH_API),
    Row("api-coding-detail", "GET", AT + "/codings/{coding}/", NORTH_API),
    Row("api-coding-detail", "PATCH", AT + "/codings/{coding}/", (403, 200, 403, 404, 404, 404, UNAUTH),
        {"memo": "Tearful", "version": 1}),
    Row("api-coding-detail", "DELETE", AT + "/codings/{coding}/", (403, 204, 403, 404, 404, 404, UNAUTH)),
    Row("api-memo-list", "GET", A + "/memos/", READERS_API),
    Row("api-memo-list", "POST", A + "/memos/", (403, 201, 201, 201, 403, 404, UNAUTH), {"title": "Waiting"}),
    Row("api-memo-detail", "PATCH", A + "/memos/{memo}/", (403, 200, 403, 404, 404, 404, UNAUTH),
        {"title": "Tears", "body": "On the phone"}),
    Row("api-memo-detail", "DELETE", A + "/memos/{memo}/", (403, 204, 403, 404, 404, 404, UNAUTH)),
    Row("api-assignment-list", "GET", A + "/assignments/", READERS_API),
    Row("api-assignment-list", "POST", A + "/assignments/", editor_api(201),
        {"transcript": "{t_south}", "coder_a": "{coder}", "coder_b": "{lead}"}),
    Row("api-assignment-done", "POST", D + "/done/", (403, 200, 200, 404, 404, 404, UNAUTH), {"done": False}),
    Row("api-disagreement-list", "GET", D + "/disagreements/", NORTH_API),
    Row("api-disagreement-comment", "POST", D + "/disagreements/{key}/comments/",
        (403, 201, 201, 404, 404, 404, UNAUTH), {"body": "I read this as distress"}),
    # The coder (tried first) resolves it; the lead is then told it is already resolved.
    Row("api-disagreement-resolve", "POST", D + "/disagreements/{key}/resolve/",
        (403, 409, 200, 404, 404, 404, UNAUTH), {"outcome": "both", "note": "Agreed to differ"}),
    Row("api-agreement", "GET", A + "/agreement/", (200, 200, 403, 403, 403, 404, UNAUTH)),
    Row("api-agreement-report", "POST", A + "/agreement/report/", (202, 202, 403, 403, 403, 404, UNAUTH)),
]


@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any) -> None:
    run_row(row, cast, analysis_world(cast))
