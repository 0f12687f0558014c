"""Role x scope contract of every participants and consent page and API endpoint (machinery:
tests/roles.py).

SU01 is at North Trust: coder_other_site (South only) gets 404 on it. The consent register is the
admin's (data manager's); the lead and the coders read participants pseudonymised and their consent
state; a PPI member reads none of it (403 on pages, 404 when asking for an object by its id).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import (
    ADMIN_PAGE,
    ADMIN_WRITE_PAGE,
    LOGIN,
    POST_ONLY_GET,
    UNAUTH,
    Row,
    admin_only,
    analysis_world,
    row_ids,
    run_row,
)

S = "/studies/{study}"
A = "/api/v1/studies/{study}"
P = S + "/participants/{su01}"
AP = A + "/participants/{su01}"

#                       admin lead coder c_o_s ppi  outsider anonymous
READERS_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
NORTH_PAGE = (200, 200, 200, 404, 404, 404, LOGIN)
ADMIN_OBJECT_PAGE = (200, 403, 403, 403, 404, 404, LOGIN)
READERS_API = (200, 200, 200, 200, 403, 404, UNAUTH)
NORTH_API = (200, 200, 200, 404, 404, 404, UNAUTH)


def admin_object(status: Any) -> tuple[Any, ...]:
    return (status, 403, 403, 403, 404, 404, LOGIN)


def admin_object_api(status: int) -> tuple[Any, ...]:
    return (status, 403, 403, 403, 404, 404, UNAUTH)


MATRIX: list[Row] = [
    Row("participant-list", "GET", S + "/participants/", READERS_PAGE),
    Row("participant-create", "GET", S + "/participants/new/", ADMIN_PAGE),
    Row("participant-create", "POST", S + "/participants/new/", ADMIN_WRITE_PAGE,
        {"pseudonym": "CA01", "group": "{group}", "site": "{north}"}),
    Row("participants-import", "GET", S + "/participants/import/", ADMIN_PAGE),
    Row("participants-import", "POST", S + "/participants/import/", ADMIN_PAGE),  # no file: the form again
    Row("participants-export", "GET", S + "/participants/export/", POST_ONLY_GET),
    Row("participants-export", "POST", S + "/participants/export/", (302, 302, 403, 403, 403, 404, LOGIN)),
    Row("attribute-list", "GET", S + "/participants/attributes/", ADMIN_PAGE),
    Row("attribute-list", "POST", S + "/participants/attributes/", ADMIN_WRITE_PAGE,
        {"label": "Age band", "kind": "text"}),
    Row("attribute-delete", "GET", S + "/participants/attributes/{attribute}/delete/", POST_ONLY_GET),
    Row("attribute-delete", "POST", S + "/participants/attributes/{attribute}/delete/", admin_object(302)),
    Row("participant-detail", "GET", P + "/", NORTH_PAGE),
    Row("participant-edit", "GET", P + "/edit/", ADMIN_OBJECT_PAGE),
    Row("participant-edit", "POST", P + "/edit/", admin_object(302),
        {"pseudonym": "SU01", "group": "{group}", "site": "{north}"}),
    Row("participant-identifiable", "GET", P + "/identifiable/", POST_ONLY_GET),
    Row("participant-identifiable", "POST", P + "/identifiable/", ADMIN_OBJECT_PAGE),
    Row("consent-record", "GET", P + "/consent/new/", ADMIN_OBJECT_PAGE),
    Row("consent-record", "POST", P + "/consent/new/", ADMIN_OBJECT_PAGE),  # nothing filled in: the form again
    Row("participant-withdraw", "GET", P + "/withdraw/", ADMIN_OBJECT_PAGE),
    Row("participant-withdraw", "POST", P + "/withdraw/", ADMIN_OBJECT_PAGE),  # nothing filled in: the form again
    Row("participant-purge-retry", "GET", P + "/purge/", POST_ONLY_GET),
    Row("participant-purge-retry", "POST", P + "/purge/", admin_object(302)),
    Row("consent-correct", "GET", P + "/consent/{event}/correct/", ADMIN_OBJECT_PAGE),
    Row("consent-correct", "POST", P + "/consent/{event}/correct/", ADMIN_OBJECT_PAGE),
    # No signed form was uploaded for this event: nothing to download (404) even for the admin.
    Row("consent-signed-form", "GET", P + "/consent/{event}/signed-form/", admin_object(404)),
    Row("consent-signed-form", "POST", P + "/consent/{event}/signed-form/", admin_object(302)),  # no file: a message
    Row("consent-dashboard", "GET", S + "/consent/", READERS_PAGE),
    Row("consent-form-list", "GET", S + "/consent/forms/", READERS_PAGE),
    Row("consent-form-create", "GET", S + "/consent/forms/new/", ADMIN_PAGE),
    Row("consent-form-create", "POST", S + "/consent/forms/new/", ADMIN_PAGE),  # nothing filled in
    Row("consent-import", "GET", S + "/consent/import/", ADMIN_PAGE),
    Row("consent-import", "POST", S + "/consent/import/", ADMIN_PAGE),  # no file: the form again
    Row("sampling-frame", "GET", S + "/sampling/", READERS_PAGE),
    Row("sampling-frame", "POST", S + "/sampling/", (403, 302, 403, 403, 403, 404, LOGIN)),
    # API
    Row("api-participant-list", "GET", A + "/participants/", READERS_API),
    Row("api-participant-list", "POST", A + "/participants/", admin_only(400), {}),
    Row("api-participant-detail", "GET", AP + "/", NORTH_API),
    Row("api-participant-detail", "PATCH", AP + "/", admin_object_api(200), {"pseudonym": "SU01"}),
    Row("api-participant-identifiable", "GET", AP + "/identifiable/", admin_object_api(200)),
    Row("api-participant-consent-events", "GET", AP + "/consent-events/", NORTH_API),
    Row("api-participant-consent-events", "POST", AP + "/consent-events/", admin_object_api(400), {}),
    Row("api-attribute-list", "GET", A + "/participant-attributes/", READERS_API),
    Row("api-attribute-list", "POST", A + "/participant-attributes/", admin_only(201),
        {"label": "Age band", "kind": "text"}),
    # The world's participants have an interview mode: the admin is told it cannot be deleted (deleting
    # one without values: tests/participants/test_api.py).
    Row("api-attribute-detail", "DELETE", A + "/participant-attributes/{attribute}/", admin_object_api(400)),
    # SU01 did not withdraw with deletion: nothing to purge, a 400 saying so, for the admin only.
    Row("api-participant-purge", "POST", AP + "/purge/", admin_object_api(400)),
    Row("api-participant-export", "POST", A + "/participants-export/", (202, 202, 403, 403, 403, 404, UNAUTH), {}),
    Row("api-consent-form-list", "GET", A + "/consent-forms/", READERS_API),
    Row("api-consent-form-list", "POST", A + "/consent-forms/", admin_only(400), {}),
    Row("api-consent-form-detail", "GET", A + "/consent-forms/{form}/", (200, 200, 200, 200, 404, 404, UNAUTH)),
    Row("api-consent-event-list", "GET", A + "/consent-events/", READERS_API),
    Row("api-consent-signed-form", "POST", A + "/consent-events/{event}/signed-form/", admin_object_api(400), {},
        files={}),
    Row("api-consent-dashboard", "GET", A + "/consent-dashboard/", READERS_API),
    Row("api-sampling-frame", "GET", A + "/sampling-frame/", READERS_API),
    Row("api-sampling-frame", "PUT", A + "/sampling-frame/", (403, 200, 403, 403, 403, 404, UNAUTH), {"targets": []}),
    Row("api-import-participants", "POST", A + "/imports/participants/", admin_only(400), {}, files={}),
    Row("api-import-consent", "POST", A + "/imports/consent/", admin_only(400), {}, files={}),
]


@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any) -> None:
    run_row(row, cast, analysis_world(cast))
