"""Browser-side protections that Django's SecurityMiddleware and django-csp do not cover, and the
Content-Security-Policy violation reports.

The policy itself is django-csp's, configured in settings (CONTENT_SECURITY_POLICY). This module adds
Permissions-Policy, Reporting-Endpoints (where Chromium sends ``report-to`` reports) and
``Cache-Control: no-store`` on everything that is not a static file: pages and API answers carry
transcript text and participant data, and a shared ward computer's back button or disk cache must not
keep them. Deciding per view which answers carry such data would be one forgotten view away from a
leak, so the rule is simply "all of them".

Reports come from browsers, unauthenticated and untrusted: they are read only up to a size limit, rate
limited per client address, reduced to a few known fields with query strings and control characters
removed (a URL's query may hold a search for a participant's words; a newline would forge log lines),
and logged on the ``chorus.csp`` logger. Nothing is stored. A body with a NUL character or a number no
browser would send is not a report and is refused whole.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

from config.throttling import parse_rate

logger = logging.getLogger("chorus.csp")

MAX_REPORTS_PER_REQUEST = 20  # the Reporting API batches; more than this in one body is not a browser
_FIELD_LIMIT = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.permissions_policy = ", ".join(f"{feature}=()" for feature in settings.CHORUS_PERMISSIONS_POLICY)
        self.reporting_endpoints = ", ".join(
            f'{name}="{url}"' for name, url in settings.CHORUS_REPORTING_ENDPOINTS.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.permissions_policy)
        response.setdefault("Reporting-Endpoints", self.reporting_endpoints)
        if "no-store" not in response.get("Cache-Control", ""):
            # Replaces a weaker Cache-Control a view may have set; no-store is what keeps the text
            # off the disk, the others stop an old proxy from reusing it.
            if "Cache-Control" in response:
                del response["Cache-Control"]
            add_never_cache_headers(response)
        return response


# Violation reports ---------------------------------------------------------------------------------


class ReportRejected(Exception):
    """The body is not a violation report; ``status`` is the HTTP answer to give."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Violation:
    document: str
    directive: str
    blocked: str
    source: str
    line: int | None
    column: int | None
    disposition: str
    sample: str


def csp_report_rate_allows(*, client: str) -> bool:
    """A fixed window per client address; the first report over the limit and all after it in the
    window are refused. Works on the local-memory and the Redis cache alike."""
    count, period = parse_rate(settings.CHORUS_CSP_REPORT_RATE)
    key = f"chorus:csp-report:{client}:{int(time.time() // period)}"
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key) <= count
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.set(key, 1, timeout=period + 1)
        return True


def csp_report_read(*, stream: Any, content_length: str | None) -> bytes:
    """The request body, refused before reading when it says it is too long and cut off when it
    turns out to be."""
    limit = settings.CHORUS_CSP_REPORT_MAX_BYTES
    try:
        declared = int(content_length or 0)
    except ValueError:
        raise ReportRejected(400, "unreadable Content-Length") from None
    if declared > limit:
        raise ReportRejected(413, f"body of {declared} bytes (limit {limit})")
    body: bytes = stream.read(limit + 1)
    if len(body) > limit:
        raise ReportRejected(413, f"body over {limit} bytes")
    return body


def csp_report_parse(*, body: bytes) -> list[Violation]:
    """Violations from a ``report-uri`` body (``{"csp-report": {...}}``) or a Reporting API batch
    (``[{"type": "csp-violation", "body": {...}}, ...]``). Anything else is refused with 400."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ReportRejected(400, "not JSON") from None
    items: list[Any]
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        items = [_from_report_uri(data["csp-report"])]
    elif isinstance(data, list):
        if len(data) > MAX_REPORTS_PER_REQUEST:
            raise ReportRejected(400, f"{len(data)} reports in one body")
        items = [
            _from_reporting_api(entry["body"]) for entry in data
            if isinstance(entry, dict) and entry.get("type") == "csp-violation" and isinstance(entry.get("body"), dict)
        ]
    else:
        items = []
    violations = [v for v in items if v.directive]
    if not violations:
        raise ReportRejected(400, "no violation report in the body")
    return violations


def csp_report_log(*, violations: list[Violation], client: str) -> None:
    for v in violations:
        where = v.source or "?"
        where += f":{v.line}" if v.line is not None else ""
        where += f":{v.column}" if v.line is not None and v.column is not None else ""
        logger.warning(
            "CSP violation: %s blocked %s on %s (%s) [%s] from %s%s",
            v.directive, v.blocked or "inline", v.document or "?", where,
            v.disposition or "enforce", client, f" sample={v.sample!r}" if v.sample else "",
        )


def _from_report_uri(r: dict[str, Any]) -> Violation:
    return Violation(
        document=_url(r.get("document-uri")),
        directive=_text(r.get("effective-directive") or r.get("violated-directive")),
        blocked=_url(r.get("blocked-uri")),
        source=_url(r.get("source-file")),
        line=_number(r.get("line-number")),
        column=_number(r.get("column-number")),
        disposition=_text(r.get("disposition")),
        sample=_text(r.get("script-sample"), limit=80),
    )


def _from_reporting_api(r: dict[str, Any]) -> Violation:
    return Violation(
        document=_url(r.get("documentURL")),
        directive=_text(r.get("effectiveDirective")),
        blocked=_url(r.get("blockedURL")),
        source=_url(r.get("sourceFile")),
        line=_number(r.get("lineNumber")),
        column=_number(r.get("columnNumber")),
        disposition=_text(r.get("disposition")),
        sample=_text(r.get("sample"), limit=80),
    )


def _text(value: Any, *, limit: int = _FIELD_LIMIT) -> str:
    if not isinstance(value, str):
        return ""
    if "\x00" in value:  # no browser sends one: the body is not a report
        raise ReportRejected(400, "a NUL character in a field")
    return _CONTROL.sub("", value)[:limit]


def _url(value: Any) -> str:
    """A URL without its query and fragment; keywords such as ``inline`` or ``eval`` as they are."""
    text = _text(value, limit=2000)
    try:
        parts = urlsplit(text)
    except ValueError:
        return text[:_FIELD_LIMIT]
    if not parts.scheme or not parts.netloc:
        return text.split("?", 1)[0].split("#", 1)[0][:_FIELD_LIMIT]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:_FIELD_LIMIT]


def _number(value: Any) -> int | None:
    """A line or column number: absent, or a small non-negative integer as browsers send."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**7:
        raise ReportRejected(400, "a line or column number that no browser sends")
    return value
