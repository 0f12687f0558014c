"""Bad input never causes a 500 and never writes anything: unknown ids, other studies' ids,
non-integer and oversized ids, malformed JSON, wrong content types, missing and mistyped fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .factories import SiteFactory
from .helpers import db_fingerprint

HUGE = 10**30


def assert_api_4xx(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict)
    assert body
    return body


# Ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/studies/{missing}/", "/api/v1/studies/{missing}/sites/", "/api/v1/studies/{missing}/members/",
        "/api/v1/studies/{missing}/audit-events/", "/api/v1/studies/{missing}/groups/",
        "/api/v1/studies/{study}/sites/{missing}/", "/api/v1/studies/{study}/members/{missing}/",
        "/api/v1/studies/{study}/jobs/{missing}/", "/api/v1/studies/{study}/jobs/{missing}/download/",
        "/api/v1/studies/{huge}/", "/api/v1/studies/{study}/sites/{huge}/",
        "/api/v1/studies/{study}/members/{huge}/", "/api/v1/studies/{study}/jobs/{huge}/",
        "/api/v1/studies/abc/", "/api/v1/studies/{study}/sites/abc/", "/api/v1/studies/-1/",
        "/api/v1/studies/1.5/", "/api/v1/no-such-endpoint/", "/api/v1/studies/0/",
    ],
)
def test_api_unknown_and_malformed_ids_are_json_404(cast: Any, api: Any, path: str) -> None:
    url = path.format(missing=999_999, study=cast.study.pk, huge=HUGE)
    assert_api_4xx(api["admin"].get(url), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/studies/{missing}/", "/studies/{missing}/members/", "/studies/{missing}/audit/",
        "/studies/{study}/members/{missing}/", "/studies/{study}/jobs/{missing}/",
        "/studies/{huge}/", "/studies/{study}/members/{huge}/", "/studies/{study}/jobs/{huge}/download/",
        "/studies/abc/", "/studies/{study}/members/abc/", "/studies/0/",
    ],
)
def test_page_unknown_and_malformed_ids_are_the_404_page(cast: Any, clients: Any, path: str) -> None:
    r = clients["admin"].get(path.format(missing=999_999, study=cast.study.pk, huge=HUGE))
    assert r.status_code == 404
    assert "Page not found" in r.content.decode()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("patch", "/api/v1/studies/{missing}/", {"name": "x"}),
        ("post", "/api/v1/studies/{missing}/sites/", {"name": "x"}),
        ("post", "/api/v1/studies/{missing}/members/", {"email": "a@example.org", "role": "coder"}),
        ("patch", "/api/v1/studies/{study}/sites/{missing}/", {"name": "x"}),
        ("delete", "/api/v1/studies/{study}/sites/{missing}/", None),
        ("patch", "/api/v1/studies/{study}/members/{missing}/", {"role": "ppi"}),
        ("delete", "/api/v1/studies/{study}/members/{missing}/", None),
        ("patch", "/api/v1/studies/{other}/", {"name": "x"}),
        ("post", "/api/v1/studies/{other}/sites/", {"name": "x"}),
        ("post", "/api/v1/studies/{other}/members/", {"email": "a@example.org", "role": "coder"}),
        ("post", "/api/v1/studies/{other}/audit-events/export/", {}),
        ("patch", "/api/v1/studies/{study}/sites/{foreign_site}/", {"name": "x"}),
        ("delete", "/api/v1/studies/{study}/sites/{foreign_site}/", None),
        ("patch", "/api/v1/studies/{study}/members/{foreign_member}/", {"role": "ppi"}),
        ("delete", "/api/v1/studies/{study}/members/{foreign_member}/", None),
        ("patch", "/api/v1/studies/{huge}/", {"name": "x"}),
        ("delete", "/api/v1/studies/{study}/members/{huge}/", None),
    ],
)
def test_api_writes_to_unknown_or_foreign_objects_are_404_and_write_nothing(
    cast: Any, api: Any, method: str, path: str, data: dict[str, Any] | None
) -> None:
    foreign_site = SiteFactory(study=cast.other_study, name="Elsewhere")
    foreign_member = cast.other_study.memberships.get()
    url = path.format(missing=999_999, study=cast.study.pk, other=cast.other_study.pk, huge=HUGE,
                      foreign_site=foreign_site.pk, foreign_member=foreign_member.pk)
    before = db_fingerprint()
    call = getattr(api["admin"], method)
    r = call(url, data, format="json") if data is not None else call(url)
    assert_api_4xx(r, 404)
    assert db_fingerprint() == before


# Bodies ---------------------------------------------------------------------------------------

MEMBERS = "/api/v1/studies/{study}/members/"
SITES = "/api/v1/studies/{study}/sites/"
STUDIES = "/api/v1/studies/"


@pytest.mark.parametrize(
    ("path", "raw", "content_type", "status"),
    [
        (STUDIES, b'{"name": "x"', "application/json", 400),  # truncated JSON
        (STUDIES, b"\xff\xfe\x00", "application/json", 400),  # not UTF-8
        (STUDIES, b"", "application/json", 400),  # empty body
        (STUDIES, b"null", "application/json", 400),
        (STUDIES, b'["a list"]', "application/json", 400),
        (STUDIES, b'"a string"', "application/json", 400),
        (STUDIES, b"name=x", "application/x-www-form-urlencoded", 415),
        (STUDIES, b'{"name": "x"}', "text/plain", 415),
        (STUDIES, b'{"name": "x"}', "application/xml", 415),
        (SITES, b'{"name": "East"', "application/json", 400),
        (SITES, b'{"name": "East"}', "text/plain", 415),
        (MEMBERS, b"{'email': 'a@example.org'}", "application/json", 400),  # Python, not JSON
        (MEMBERS, b'{"email": "a@example.org", "role": "coder"}', "text/plain", 415),
        (MEMBERS, b"--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.org\r\n--x--\r\n",
         "multipart/form-data; boundary=x", 415),
    ],
)
def test_api_malformed_bodies_and_wrong_content_types(
    cast: Any, api: Any, path: str, raw: bytes, content_type: str, status: int
) -> None:
    before = db_fingerprint()
    r = api["admin"].generic("POST", path.format(study=cast.study.pk), raw, content_type=content_type)
    assert_api_4xx(r, status)
    assert db_fingerprint() == before


def test_api_patch_with_wrong_content_type(cast: Any, api: Any) -> None:
    before = db_fingerprint()
    r = api["admin"].generic("PATCH", f"/api/v1/studies/{cast.study.pk}/", b'{"name": "x"}', content_type="text/plain")
    assert_api_4xx(r, 415)
    r = api["admin"].generic("PATCH", f"/api/v1/studies/{cast.study.pk}/", b"{oops", content_type="application/json")
    assert_api_4xx(r, 400)
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        (STUDIES, {}, "name"),
        (STUDIES, {"name": ""}, "name"),
        (STUDIES, {"name": "   "}, "name"),
        (STUDIES, {"name": "x" * 201}, "name"),
        (STUDIES, {"name": ["a", "list"]}, "name"),
        (STUDIES, {"name": {"an": "object"}}, "name"),
        (STUDIES, {"name": "nul\x00byte"}, "name"),
        (STUDIES, {"name": "ok", "sites": "not a list"}, "sites"),
        (STUDIES, {"name": "ok", "sites": [None]}, "sites"),
        (STUDIES, {"name": "ok", "sites": ["x" * 201]}, "sites"),
        (SITES, {}, "name"),
        (SITES, {"name": None}, "name"),
        (SITES, {"name": "nul\x00byte"}, "name"),
        (MEMBERS, {"role": "coder"}, "email"),
        (MEMBERS, {"email": "a@example.org"}, "role"),
        (MEMBERS, {"email": "not-an-email", "role": "coder"}, "email"),
        (MEMBERS, {"email": 12, "role": "coder"}, "email"),
        (MEMBERS, {"email": "a@example.org", "role": "owner"}, "role"),
        (MEMBERS, {"email": "a@example.org", "role": "ADMIN"}, "role"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_sites": "1"}, "scope_sites"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_sites": ["north"]}, "scope_sites"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_sites": [1.5]}, "scope_sites"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_sites": [HUGE]}, "scope_sites"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_sites": [0]}, "scope_sites"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_groups": [999_999]}, "scope_groups"),
        (MEMBERS, {"email": "a@example.org", "role": "coder", "scope_groups": [{"id": 1}]}, "scope_groups"),
    ],
)
def test_api_missing_and_mistyped_fields_are_400_naming_the_field(
    cast: Any, api: Any, path: str, data: dict[str, Any], field: str
) -> None:
    before = db_fingerprint()
    r = api["admin"].post(path.format(study=cast.study.pk), data, format="json")
    body = assert_api_4xx(r, 400)
    assert field in body, body
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/api/v1/studies/{study}/", {"name": ""}, "name"),
        ("/api/v1/studies/{study}/", {"name": 5.5j} if False else {"name": None}, "name"),
        ("/api/v1/studies/{study}/sites/{north}/", {}, "name"),
        ("/api/v1/studies/{study}/sites/{north}/", {"name": " "}, "name"),
        ("/api/v1/studies/{study}/members/{coder}/", {"role": "boss"}, "role"),
        ("/api/v1/studies/{study}/members/{coder}/", {"scope_sites": [-3]}, "scope_sites"),
        ("/api/v1/studies/{study}/members/{coder}/", {"scope_groups": "all"}, "scope_groups"),
    ],
)
def test_api_patch_bad_fields(cast: Any, api: Any, path: str, data: dict[str, Any], field: str) -> None:
    before = db_fingerprint()
    url = path.format(study=cast.study.pk, north=cast.north.pk, coder=cast.memberships["coder"].pk)
    body = assert_api_4xx(api["admin"].patch(url, data, format="json"), 400)
    assert field in body
    assert db_fingerprint() == before


def test_api_unsupported_methods_are_405_json(cast: Any, api: Any) -> None:
    before = db_fingerprint()
    assert_api_4xx(api["admin"].put(f"/api/v1/studies/{cast.study.pk}/", {"name": "x"}, format="json"), 405)
    assert_api_4xx(api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/"), 405)
    assert_api_4xx(api["admin"].post(f"/api/v1/studies/{cast.study.pk}/groups/", {}, format="json"), 405)
    assert_api_4xx(api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/audit-events/"), 405)
    assert_api_4xx(api["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/export/"), 405)
    assert db_fingerprint() == before


def test_api_wrong_role_is_checked_before_the_body(cast: Any, api: Any) -> None:
    """A lead sending garbage to an admin-only endpoint learns only that it may not."""
    r = api["lead"].generic("POST", f"/api/v1/studies/{cast.study.pk}/members/", b"{bad", content_type="application/json")
    # DRF parses lazily: the role check runs first, so the answer is 403, not a parse error.
    assert_api_4xx(r, 403)


def test_api_deeply_nested_json_is_a_clean_400(cast: Any, api: Any) -> None:
    raw = ("[" * 100_000 + "]" * 100_000).encode()
    before = db_fingerprint()
    r = api["admin"].generic("POST", "/api/v1/studies/", raw, content_type="application/json")
    assert_api_4xx(r, 400)
    assert db_fingerprint() == before


def test_api_oversized_body_is_refused(cast: Any, api: Any) -> None:
    raw = json.dumps({"name": "x", "description": "y" * (11 * 1024 * 1024)}).encode()
    before = db_fingerprint()
    r = api["admin"].generic("POST", "/api/v1/studies/", raw, content_type="application/json")
    assert 400 <= r.status_code < 500
    assert db_fingerprint() == before


# Pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/studies/{study}/sites/new/", {}),
        ("/studies/{study}/sites/new/", {"name": "   "}),
        ("/studies/{study}/sites/new/", {"name": "x" * 201}),
        ("/studies/{study}/sites/new/", {"name": "nul\x00byte"}),
        ("/studies/{study}/sites/{north}/edit/", {}),
        ("/studies/{study}/sites/{north}/edit/", {"name": "nul\x00byte"}),
        ("/studies/{study}/members/", {}),
        ("/studies/{study}/members/", {"email": "not-an-email", "role": "coder"}),
        ("/studies/{study}/members/", {"email": "a@example.org", "role": "owner"}),
        ("/studies/{study}/members/", {"email": "a@example.org", "role": "coder", "scope_sites": ["abc"]}),
        ("/studies/{study}/members/", {"email": "a@example.org", "role": "coder", "scope_sites": [str(HUGE)]}),
        ("/studies/{study}/members/{coder}/", {}),
        ("/studies/{study}/members/{coder}/", {"role": "coder", "scope_groups": ["999999"]}),
        ("/studies/{study}/settings/", {}),
        ("/studies/{study}/settings/", {"name": "x" * 201}),
        ("/studies/new/", {"name": ""}),
        ("/studies/new/", {"name": "ok", "sites": "a\n" + "b" * 201}),
    ],
)
def test_page_bad_form_input_is_a_clear_answer_and_writes_nothing(
    cast: Any, clients: Any, path: str, data: dict[str, Any]
) -> None:
    url = path.format(study=cast.study.pk, north=cast.north.pk, coder=cast.memberships["coder"].pk)
    before = db_fingerprint()
    # A browser always sends at least the submit button (and the CSRF token), never an empty body.
    r = clients["admin"].post(url, {**data, "submit": ""}, follow=True)
    assert r.status_code == 200
    html = r.content.decode()
    assert "There is a problem" in html or "Error:" in html, html[:2000]
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    "query", ["date_from=2024-99-99", "actor=abc", f"actor={HUGE}", "page=-1", "page=abc", "page=" + "9" * 40],
)
def test_audit_page_bad_query_strings(cast: Any, clients: Any, query: str) -> None:
    r = clients["admin"].get(f"/studies/{cast.study.pk}/audit/?{query}")
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("query", "says"),
    [("date_to=%00", "Null characters"), ("action=%00", "Null characters"), ("q=a%00b", "Null characters"),
     ("search=%00", "Null characters")],
)
def test_page_nul_in_the_query_string_is_a_clear_400(
    cast: Any, clients: Any, query: str, says: str
) -> None:
    for page in ("audit/", "search/", "memos/", "participants/"):
        r = clients["admin"].get(f"/studies/{cast.study.pk}/{page}?{query}")
        assert r.status_code == 400, page
        assert says in r.content.decode()
        assert "Bad Request (400)" not in r.content.decode()


def test_page_post_with_json_body_is_not_a_500(cast: Any, clients: Any) -> None:
    before = db_fingerprint()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/sites/new/", '{"name": "x"}', content_type="application/json")
    assert r.status_code == 302  # treated as an empty form: a message, nothing written
    assert db_fingerprint() == before


def test_a_403_is_logged_in_one_line_without_a_traceback(cast: Any, clients: Any, caplog: Any) -> None:
    import logging

    with caplog.at_level(logging.WARNING, logger="django.request"):
        r = clients["coder"].get(f"/studies/{cast.study.pk}/audit/")
    assert r.status_code == 403
    records = [rec for rec in caplog.records if rec.name == "django.request" and getattr(rec, "status_code", 0) == 403]
    assert records
    assert all(rec.exc_info is None for rec in records)
    assert "Traceback" not in caplog.text
