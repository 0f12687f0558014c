"""Every page under a study, swept: a signed-in outsider gets the 404 page before the page reads its
input — a form posted with bad fields, a NUL in the query string — so a bad request never tells them
more than a good one would (accounts.middleware.StudyMembershipMiddleware). New pages are covered as
soon as they are routed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    out: list[tuple[str, URLPattern]] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out.extend(_walk(p.url_patterns, prefix + str(p.pattern)))
        else:
            out.append((prefix + str(p.pattern), p))
    return out


PAGES = sorted({route for route, _ in _walk(get_resolver().url_patterns)
                if not route.startswith("api/") and "<int:study_id>" in route})


def test_the_sweep_finds_the_pages() -> None:
    assert len(PAGES) > 40


@pytest.mark.django_db
@pytest.mark.parametrize("route", PAGES)
def test_outsider_gets_404_before_any_page_input_is_read(cast: Any, clients: Any, route: str) -> None:
    url = "/" + re.sub(r"<(?:int:|str:)?\w+>", "1", route.replace("<int:study_id>", str(cast.study.pk)))
    outsider = clients["outsider"]
    for r in (outsider.get(url + "?q=%00&page=" + "9" * 40),
              outsider.post(url, {"name": "a\x00b", "start": "1e400", "version": "x"}),
              outsider.post(url, "{broken", content_type="application/json")):
        assert r.status_code == 404, (url, r.status_code)
        assert "Page not found" in r.content.decode()
