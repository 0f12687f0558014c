"""The browser-side protections on every kind of response (a page, an API answer, the error pages,
the live-update stream, the sign-in page), and the Content-Security-Policy violation report endpoint:
valid reports from both report formats are logged without query strings or control characters; junk,
oversized and too frequent bodies are refused with a 4xx, never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import resolve

from accounts.views import csp_report
from config.urls import handler403, handler404, handler500

EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "object-src": ["'none'"],
    "report-uri": ["/csp-report/"],
    "report-to": ["csp"],
}
REPORT_URL = "/csp-report/"


def policy_of(response: Any) -> dict[str, list[str]]:
    directives = [d.strip().split() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def assert_protected(response: Any) -> None:
    assert policy_of(response) == EXPECTED_POLICY
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    assert "Content-Security-Policy-Report-Only" not in response  # enforced, not only reported
    assert "no-store" in response["Cache-Control"]
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    features = dict(f.strip().split("=") for f in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()", feature
    assert response["Reporting-Endpoints"] == f'csp="{REPORT_URL}"'
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def test_a_page_with_transcript_text(cast: Any, clients: Any, t_north: Any) -> None:
    r = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/")
    assert r.status_code == 200
    assert_protected(r)


def test_the_sign_in_page(clients: Any) -> None:
    r = clients["anonymous"].get("/accounts/login/")
    assert r.status_code == 200
    assert_protected(r)


def test_an_api_answer_with_participant_data(cast: Any, api: Any, su01: Any) -> None:
    r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/participants/")
    assert r.status_code == 200
    assert "SU01" in r.content.decode()
    assert_protected(r)


def test_api_answers_refusing_access(cast: Any, api: Any) -> None:
    assert_protected(api["anonymous"].get("/api/v1/me/"))  # 401
    assert_protected(api["ppi"].get(f"/api/v1/studies/{cast.study.pk}/members/"))  # 403
    assert_protected(api["outsider"].get(f"/api/v1/studies/{cast.study.pk}/"))  # 404


@pytest.mark.parametrize("url", ["/no-such-page/", "/api/v1/no-such-endpoint/"])
def test_the_404_pages(clients: Any, url: str) -> None:
    assert handler404 == "accounts.views.error_404"
    r = clients["coder"].get(url)
    assert r.status_code == 404
    assert_protected(r)


def test_the_403_page(cast: Any, clients: Any) -> None:
    assert handler403 == "accounts.views.error_403"
    r = clients["ppi"].get(f"/studies/{cast.study.pk}/members/")
    assert r.status_code == 403
    assert "You cannot do this" in r.content.decode()
    assert_protected(r)


@pytest.mark.urls("tests.urls_failing")
@pytest.mark.parametrize(("url", "kind"), [("/boom/", "text/html"), ("/api/v1/boom/", "application/json")])
def test_the_500_pages(cast: Any, url: str, kind: str) -> None:
    assert handler500 == "accounts.views.error_500"
    client = Client(raise_request_exception=False)
    client.force_login(cast.users["coder"])
    r = client.get(url)
    assert r.status_code == 500
    assert r["Content-Type"].startswith(kind)
    assert_protected(r)


@override_settings(CHORUS_CODING_STREAM_SECONDS=0)
def test_the_live_update_stream(cast: Any, clients: Any, t_north: Any) -> None:
    r = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/stream/")
    assert r.status_code == 200
    assert r["Content-Type"] == "text/event-stream"
    assert_protected(r)
    b"".join(r.streaming_content)  # let the stream finish and close its connection


def test_a_view_cannot_weaken_no_store(cast: Any, clients: Any) -> None:
    """Django's static-looking answers (a redirect, the API schema) are no-store too: the rule is
    every answer that is not a static file, not a list of views to remember."""
    for r in (clients["coder"].get("/"), clients["anonymous"].get("/api/v1/schema/")):
        assert "no-store" in r["Cache-Control"]
        assert "private" in r["Cache-Control"]


def test_the_report_endpoint_is_where_the_headers_say() -> None:
    assert resolve(REPORT_URL).func is csp_report


# Violation reports ---------------------------------------------------------------------------------

REPORT_URI_BODY = {
    "csp-report": {
        "document-uri": "https://chorus.example.nhs.uk/studies/1/search/?q=what+SU01+said#hit",
        "referrer": "",
        "violated-directive": "style-src-attr",
        "effective-directive": "style-src-attr",
        "original-policy": "default-src 'self'",
        "disposition": "enforce",
        "blocked-uri": "inline",
        "line-number": 12,
        "column-number": 7,
        "source-file": "https://chorus.example.nhs.uk/static/coding/coder.js?v=3",
        "status-code": 200,
        "script-sample": "",
    }
}
REPORTING_API_BODY = [
    {
        "type": "csp-violation", "age": 10, "url": "https://chorus.example.nhs.uk/studies/1/",
        "user_agent": "Chromium",
        "body": {
            "documentURL": "https://chorus.example.nhs.uk/studies/1/transcripts/2/code/",
            "effectiveDirective": "script-src-elem", "blockedURL": "https://evil.example/x.js?token=abc",
            "disposition": "enforce", "lineNumber": 3, "columnNumber": 1, "statusCode": 200,
            "sourceFile": "https://chorus.example.nhs.uk/studies/1/transcripts/2/code/",
        },
    },
    {
        "type": "csp-violation", "age": 11, "url": "https://chorus.example.nhs.uk/studies/1/",
        "body": {"documentURL": "https://chorus.example.nhs.uk/", "effectiveDirective": "img-src",
                 "blockedURL": "https://tracker.example/pixel.gif", "disposition": "enforce"},
    },
    {"type": "deprecation", "body": {"id": "something-old"}},  # other report types are ignored
]


def post(client: Client, body: Any, content_type: str = "application/csp-report") -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(REPORT_URL, data=data, content_type=content_type)


def test_a_report_uri_report_is_logged_without_its_query(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        r = post(Client(), REPORT_URI_BODY)
    assert r.status_code == 204
    [line] = [rec.getMessage() for rec in caplog.records if rec.name == "chorus.csp"]
    assert "style-src-attr blocked inline on https://chorus.example.nhs.uk/studies/1/search/" in line
    assert "coder.js:12:7" in line
    assert "SU01" not in line  # the search words in the query never reach the log
    assert "?v=3" not in line


def test_a_reporting_api_batch_is_logged_report_by_report(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        r = post(Client(), REPORTING_API_BODY, "application/reports+json")
    assert r.status_code == 204
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "chorus.csp"]
    assert len(lines) == 2
    assert "script-src-elem blocked https://evil.example/x.js on" in lines[0]
    assert "token=abc" not in lines[0]
    assert "img-src blocked https://tracker.example/pixel.gif" in lines[1]


def test_reports_from_a_signed_in_browser_are_taken_too(clients: Any) -> None:
    assert post(clients["coder"], REPORT_URI_BODY).status_code == 204


def test_control_characters_cannot_forge_log_lines(caplog: Any) -> None:
    body = json.loads(json.dumps(REPORT_URI_BODY))
    body["csp-report"]["blocked-uri"] = "inline\n2026-01-01 WARNING chorus.csp forged\r\x1b[31m"
    del body["csp-report"]["line-number"]
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        assert post(Client(), body).status_code == 204
    [line] = [rec.getMessage() for rec in caplog.records if rec.name == "chorus.csp"]
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert "blocked inline2026-01-01 WARNING" in line  # kept as text, on one line
    assert "coder.js)" in line  # no line number


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("blocked-uri", "inline\x00"),
        ("document-uri", "https://chorus.example.nhs.uk/\x00"),
        ("effective-directive", "style-src\x00"),
        ("line-number", 10**30),
        ("line-number", 2**63),
        ("column-number", -1),
        ("line-number", "12"),
        ("line-number", 1.5),
        ("column-number", True),
    ],
)
def test_nul_characters_and_impossible_numbers_are_refused(field: str, value: Any, caplog: Any) -> None:
    body = json.loads(json.dumps(REPORT_URI_BODY))
    body["csp-report"][field] = value
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        assert post(Client(), body).status_code == 400
    assert not [rec for rec in caplog.records if rec.name == "chorus.csp"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",  # not UTF-8
        b"42",
        b'"a string"',
        b"null",
        b'{"csp-report": "not an object"}',
        b'{"csp-report": {}}',  # no directive: not a violation
        b'{"something": "else"}',
        b'[1, 2, 3]',
        b'[{"type": "csp-violation", "body": "x"}]',
        b'[{"type": "deprecation", "body": {"id": "x"}}]',
        b"[" * 5000 + b"]" * 5000,  # nested deeper than the parser goes
        b'{"csp-report": {"effective-directive": 12}}',
    ],
)
def test_junk_is_refused_with_400_and_not_logged(body: bytes, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        r = post(Client(), body)
    assert r.status_code == 400
    assert r.content.startswith(b"Not a violation report")
    assert not [rec for rec in caplog.records if rec.name == "chorus.csp"]


def test_too_many_reports_in_one_batch_are_refused() -> None:
    batch = [REPORTING_API_BODY[0]] * 21
    assert post(Client(), batch, "application/reports+json").status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read() -> None:
    big = {"csp-report": {**REPORT_URI_BODY["csp-report"], "script-sample": "x" * 20_000}}
    assert post(Client(), big).status_code == 413


def test_a_body_longer_than_it_says_is_cut_off_and_refused() -> None:
    from accounts.security import ReportRejected, csp_report_read

    class Stream:
        def read(self, n: int) -> bytes:
            return b"x" * n

    with pytest.raises(ReportRejected) as e:
        csp_report_read(stream=Stream(), content_length="10")
    assert e.value.status == 413
    with pytest.raises(ReportRejected) as e:
        csp_report_read(stream=Stream(), content_length="ten")
    assert e.value.status == 400


@override_settings(CHORUS_CSP_REPORT_RATE="3/minute")
def test_reports_are_rate_limited_per_address(caplog: Any) -> None:
    one, other = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    with caplog.at_level(logging.WARNING, logger="chorus.csp"):
        assert [post(one, REPORT_URI_BODY).status_code for _ in range(5)] == [204, 204, 204, 429, 429]
        assert post(other, REPORT_URI_BODY).status_code == 204  # another address has its own allowance
    assert len([rec for rec in caplog.records if rec.name == "chorus.csp"]) == 4


def test_only_post(clients: Any) -> None:
    assert clients["anonymous"].get(REPORT_URL).status_code == 405
    assert clients["coder"].put(REPORT_URL).status_code == 405
