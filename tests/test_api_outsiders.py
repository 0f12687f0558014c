"""Every API endpoint under a study, swept: a signed-in outsider (member of another study only) gets 404
before anything in the request is looked at — malformed JSON, NUL characters, numbers too large for
any column, missing fields — so a bad request never tells them more than a good one would. New
endpoints are covered as soon as they are routed."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

# Bodies that trip validation in every way we know; none may be looked at for an outsider.
BODIES = ['{"start": 1e400, "end": 99999999999999999999999999, "text": "a\\u0000b", "ids": [1e400]}', "{not json", "{}"]


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    out: list[tuple[str, URLPattern]] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out.extend(_walk(p.url_patterns, prefix + str(p.pattern)))
        else:
            out.append((prefix + str(p.pattern), p))
    return out


def _api_study_endpoints() -> list[tuple[str, str]]:
    endpoints = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or "<int:study_id>" not in route:
            continue
        cls = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        assert cls is not None, f"{route}: API views are DRF views"
        assert issubclass(cls, APIView), f"{route}: API views are DRF views"
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(cls, method):
                endpoints.append((route, method))
    return endpoints


ENDPOINTS = _api_study_endpoints()


def _url(route: str, study_id: int) -> str:
    import re

    url = route.replace("<int:study_id>", str(study_id))
    url = re.sub(r"<int:\w+>", "1", url)
    url = re.sub(r"<(?:str:)?\w+>", "x", url)
    return "/" + url


def test_the_sweep_finds_the_endpoints() -> None:
    assert len(ENDPOINTS) > 60  # a routing change that hides endpoints from the sweep fails here


@pytest.mark.parametrize(("route", "method"), ENDPOINTS, ids=[f"{m.upper()} {r}" for r, m in ENDPOINTS])
def test_outsider_gets_404_before_any_input_is_read(cast: Any, api: Any, route: str, method: str) -> None:
    url = _url(route, cast.study.pk)
    for body in BODIES if method != "get" else [None]:
        call = getattr(api["outsider"], method)
        r = call(url + "?q=%00&limit=1e400&offset=-1", data=body, content_type="application/json") if body else call(
            url + "?q=%00&limit=1e400&offset=-1")
        assert r.status_code == 404, (url, method, body, r.status_code, r.content[:200])
        assert r.json() == {"detail": "Not found."}
    anon = getattr(api["anonymous"], method)(url)
    assert anon.status_code == 401, (url, method, anon.status_code)
