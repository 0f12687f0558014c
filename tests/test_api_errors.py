"""One error body shape across the API (issue 15): every status an API client can meet, provoked through
real endpoints, answers a JSON object whose ``detail`` is a non-empty sentence; invalid input also names
each refused field as ``{"field": ["message"]}``; a 409 adds ``current`` where there is one; and nothing
is written. The shape is documented in docs/api.md, "Errors"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from analysis.coding.services import codebook as code_services
from config.api_errors import error_body
from tests.roles import db_snapshot

pytestmark = pytest.mark.django_db


def assert_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str), body
    assert body["detail"].strip(), body
    for key, value in body.items():
        if key in ("detail", "current"):
            continue
        # Field errors: a list of messages (nested serializers: objects or lists of them).
        assert isinstance(value, (list, dict)), (key, value)
    return body


def test_every_error_status_has_the_one_shape(cast: Any, api: dict[str, Any], monkeypatch: Any) -> None:
    s = cast.study.pk
    base = f"/api/v1/studies/{s}"
    lead, coder = api["lead"], api["coder"]
    before = db_snapshot()

    # 400: a serializer's field errors, named, with a sentence.
    body = assert_shape(lead.post(f"{base}/codes/", {"name": ""}, format="json"), 400)
    assert "name" in body
    assert body["detail"].startswith("name:")
    # 400: a field no write takes.
    body = assert_shape(lead.post(f"{base}/codes/", {"name": "X", "zz": 1}, format="json"), 400)
    assert "zz" in body
    # 400: the body is not JSON (a parser error).
    assert_shape(lead.generic("POST", f"{base}/codes/", b"{broken", content_type="application/json"), 400)
    # 400: a NUL character (config/input_guard.py).
    body = assert_shape(lead.post(f"{base}/codes/", {"name": "a\x00b"}, format="json"), 400)
    assert "Null characters" in body["detail"]
    # 401: no credentials.
    r = APIClient().get(f"{base}/codes/")
    assert_shape(r, 401)
    assert r["WWW-Authenticate"] == "Token"
    # 401: a token that does not exist.
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_shape(bad.get(f"{base}/codes/"), 401)
    # 403: a member whose role may not.
    assert_shape(coder.post(f"{base}/sites/", {"name": "East"}, format="json"), 403)
    # 404: another study's, an object that does not exist, a path the API does not route.
    assert_shape(api["outsider"].get(f"{base}/codes/"), 404)
    assert_shape(lead.get(f"{base}/codes/999999/"), 404)
    assert_shape(lead.get("/api/v1/no-such-endpoint/"), 404)
    # 405: a method the endpoint does not take.
    assert_shape(lead.delete(f"{base}/codes/"), 405)
    # 415: a body in a format the endpoint does not read.
    assert_shape(lead.generic("POST", f"{base}/codes/", b"name=X", content_type="text/plain"), 415)
    assert db_snapshot() == before

    # A view that answers its refusal itself (not through an exception): the same shape.
    from tests.factories import add_transcript, participant_row

    t = add_transcript(cast, participant_row(cast, "SU01", "service_user", cast.north), "Interviewer: Hi?\nSU01: Hello.\n")
    body = assert_shape(lead.get(f"{base}/transcripts/{t.pk}/codings/events/?after=soon"), 400)
    assert body["after"] == ["A whole number is required."]
    assert body["detail"] == "after: A whole number is required."

    # 409: a stale version, with the current object.
    code = code_services.code_create(actor=cast.users["lead"], study_id=s, name="Feeling unheard")
    r = lead.patch(f"{base}/codes/{code.pk}/", {"name": "Renamed", "version": code.version + 5}, format="json")
    body = assert_shape(r, 409)
    assert body["current"]["name"] == "Feeling unheard"


def test_429_and_503_have_the_shape(cast: Any, api: dict[str, Any], monkeypatch: Any) -> None:
    base = f"/api/v1/studies/{cast.study.pk}"
    cache.clear()
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "1/minute"}}
    with override_settings(REST_FRAMEWORK=rates):
        api["coder"].get(f"{base}/codes/")
        r = api["coder"].get(f"{base}/codes/")
        assert_shape(r, 429)
        assert int(r["Retry-After"]) > 0
    cache.clear()

    # The job queue does not answer: starting a job is a 503 saying so, nothing written.
    from jobs import services as job_services

    class Down:
        class conf:  # mimics Celery's app.conf
            task_always_eager = False

        def connection_for_write(self) -> Any:
            raise ConnectionError("broker down")

    monkeypatch.setattr(job_services, "_celery", lambda: Down())
    before = db_snapshot()
    r = api["admin"].post(f"{base}/audit-events/export/", {}, format="json")
    assert_shape(r, 503)
    assert db_snapshot() == before


@pytest.mark.parametrize(("data", "detail"), [
    ({"name": ["This field is required."]}, "name: This field is required."),
    ({"name": ["A."], "start": ["B."]}, "name: A. (and 1 more)"),
    ({"non_field_errors": ["Both coders must differ."]}, "Both coders must differ."),
    (["Participants have values for this attribute."], "Participants have values for this attribute."),
    ({"detail": ["One.", "Two."], "committed": False}, "One. Two."),
    ({"items": [{"key": ["Required."]}]}, "items: Required."),
    ("plain text", "plain text"),
    (None, "Not found."),
])
def test_error_body_composes_one_sentence(data: Any, detail: str) -> None:
    body = error_body(data, 404 if data is None else 400)
    assert body["detail"] == detail
    if isinstance(data, dict):
        assert {k: v for k, v in body.items() if k not in ("detail", "non_field_errors")} == \
            {k: v for k, v in data.items() if k not in ("detail", "non_field_errors")}
