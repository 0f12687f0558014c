"""Role x scope contract of every transcripts page and API endpoint (machinery: tests/roles.py).

The transcript is SU01's (North Trust): coder_other_site (South only) gets 404 on it. A PPI member
lacks transcript.view: 403 on the transcripts pages, 404 when asking for one by its id
(policy.denial_hides_object). Imports are private to the member who uploaded them (the lead here).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import LOGIN, POST_ONLY_GET, UNAUTH, Row, analysis_world, row_ids, run_row

S = "/studies/{study}"
A = "/api/v1/studies/{study}"
T = S + "/transcripts/{t_north}"
AT = A + "/transcripts/{t_north}"
ST02 = ("ST02.txt", b"Interviewer: How was it?\nST02: Fine.\n")  # a consented participant without a transcript

#                       admin lead coder c_o_s ppi  outsider anonymous
READERS_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
READERS_OBJECT_PAGE = (200, 200, 200, 404, 404, 404, LOGIN)
UPLOAD_PAGE = (200, 200, 403, 403, 403, 404, LOGIN)
OWN_IMPORT_PAGE = (404, 200, 403, 403, 404, 404, LOGIN)
OWN_IMPORT_WRITE = (404, 302, 403, 403, 404, 404, LOGIN)
EDIT_PAGE = (403, 200, 403, 403, 404, 404, LOGIN)
EDIT_WRITE = (403, 302, 403, 403, 404, 404, LOGIN)
READERS_API = (200, 200, 200, 200, 403, 404, UNAUTH)
READERS_OBJECT_API = (200, 200, 200, 404, 404, 404, UNAUTH)


def own_import_api(status: int) -> tuple[Any, ...]:
    return (404, status, 403, 403, 404, 404, UNAUTH)


def edit_api(status: int) -> tuple[Any, ...]:
    return (403, status, 403, 403, 404, 404, UNAUTH)


MATRIX: list[Row] = [
    Row("transcript-list", "GET", S + "/transcripts/", READERS_PAGE),
    Row("transcript-upload", "GET", S + "/transcripts/upload/", UPLOAD_PAGE),
    Row("transcript-upload", "POST", S + "/transcripts/upload/", (302, 302, 403, 403, 403, 404, LOGIN),
        files={"transcript_files": ST02}),
    Row("transcript-import", "GET", S + "/transcripts/imports/{batch}/", OWN_IMPORT_PAGE),
    Row("transcript-import-commit", "GET", S + "/transcripts/imports/{batch}/confirm/", POST_ONLY_GET),
    Row("transcript-import-commit", "POST", S + "/transcripts/imports/{batch}/confirm/", OWN_IMPORT_WRITE),
    Row("transcript-import-cancel", "GET", S + "/transcripts/imports/{batch}/cancel/", POST_ONLY_GET),
    Row("transcript-import-cancel", "POST", S + "/transcripts/imports/{batch}/cancel/", OWN_IMPORT_WRITE),
    Row("transcript-search", "GET", S + "/search/?q=phone", READERS_PAGE),
    Row("transcript-detail", "GET", T + "/", READERS_OBJECT_PAGE),
    Row("transcript-replace", "GET", T + "/replace/", POST_ONLY_GET),
    Row("transcript-replace", "POST", T + "/replace/", EDIT_WRITE,
        {"start": 0, "end": 9, "expected": "Interview", "replacement": "Talk", "version": 2}),
    Row("transcript-replace-all", "GET", T + "/replace-all/", EDIT_PAGE),
    Row("transcript-replace-all", "POST", T + "/replace-all/", EDIT_WRITE,
        {"find": "phone", "replacement": "telephone", "version": 2, "confirm": "1"}),
    Row("transcript-history", "GET", T + "/history/", READERS_OBJECT_PAGE),
    Row("transcript-revert", "GET", T + "/history/{edit}/revert/", POST_ONLY_GET),
    Row("transcript-revert", "POST", T + "/history/{edit}/revert/", EDIT_WRITE, {"version": 2}),
    Row("transcript-original", "GET", T + "/original/", (200, 403, 403, 403, 404, 404, LOGIN)),
    # API
    Row("api-transcript-list", "GET", A + "/transcripts/", READERS_API),
    Row("api-transcript-list", "POST", A + "/transcripts/", (400, 400, 403, 403, 403, 404, UNAUTH), {}),
    Row("api-transcript-upload", "POST", A + "/transcripts/upload/", (201, 201, 403, 403, 403, 404, UNAUTH),
        files={"files": ST02}),
    Row("api-transcript-import", "GET", A + "/transcript-imports/{batch}/", own_import_api(200)),
    Row("api-transcript-import-commit", "POST", A + "/transcript-imports/{batch}/confirm/", own_import_api(202)),
    Row("api-transcript-import-cancel", "POST", A + "/transcript-imports/{batch}/cancel/", own_import_api(200)),
    Row("api-transcript-search", "GET", A + "/search/?q=phone", READERS_API),
    Row("api-transcript-detail", "GET", AT + "/", READERS_OBJECT_API),
    Row("api-transcript-original", "GET", AT + "/original/", (200, 403, 403, 403, 404, 404, UNAUTH)),
    Row("api-transcript-edits", "GET", AT + "/edits/", READERS_OBJECT_API),
    Row("api-transcript-edits", "POST", AT + "/edits/", edit_api(201),
        {"kind": "replace", "start": 0, "end": 9, "expected": "Interview", "replacement": "Talk", "base_version": 2}),
    Row("api-transcript-revert", "POST", AT + "/edits/{edit}/revert/", edit_api(201), {"base_version": 2}),
]


@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any) -> None:
    run_row(row, cast, analysis_world(cast))


# Transcript sets: their rows and their world live beside this file; the guard reads MATRIX.
from tests.transcripts.set_roles import SETS, test_sets_role_matrix  # noqa: E402, F401

MATRIX = MATRIX + SETS
