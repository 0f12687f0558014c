"""The study audit log: the page and the API, filtered by user, action (exact or family) and dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.models import AuditEvent

from .helpers import entry_count


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")


@pytest.fixture
def trail(cast: Any) -> dict[str, AuditEvent]:
    """Five events of the cast study and one of the other study (which must never show)."""
    admin, lead = cast.users["admin"], cast.users["lead"]

    def ev(actor: Any, action: str, day: str, study: Any = cast.study, **details: Any) -> AuditEvent:
        return AuditEvent.objects.create(
            actor=actor, actor_email=actor.email, action=action, study=study, at=_at(day), details=details
        )

    return {
        "m_create": ev(admin, "membership.create", "2024-01-10", email="a@example.org"),
        "m_update": ev(admin, "membership.update", "2024-02-15", before={"role": "coder"}),
        "m_delete": ev(lead, "membership.delete", "2024-03-01"),
        "site": ev(lead, "site.create", "2024-03-20", name="East"),
        "study": ev(admin, "study.update", "2024-04-30"),
        "foreign": ev(cast.users["outsider"], "membership.create", "2024-02-15", study=cast.other_study),
    }


def _ids(response: Any) -> list[int]:
    return [e["id"] for e in response.json()["results"]]


# API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["study", "site", "m_delete", "m_update", "m_create"]),
        ("action=membership", ["m_delete", "m_update", "m_create"]),
        ("action=membership.update", ["m_update"]),
        ("action=member", []),  # a family is a whole prefix before the dot, not any prefix
        ("action=site.create", ["site"]),
        ("date_from=2024-02-15", ["study", "site", "m_delete", "m_update"]),
        ("date_to=2024-02-15", ["m_update", "m_create"]),
        ("date_from=2024-02-01&date_to=2024-03-20", ["site", "m_delete", "m_update"]),
        ("action=membership&date_from=2024-02-01", ["m_delete", "m_update"]),
    ],
)
def test_api_filters(cast: Any, api: Any, trail: dict[str, AuditEvent], query: str, expected: list[str]) -> None:
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/?{query}")
    assert r.status_code == 200
    assert _ids(r) == [trail[k].pk for k in expected]


def test_api_filter_by_user(cast: Any, api: Any, trail: dict[str, AuditEvent]) -> None:
    url = f"/api/v1/studies/{cast.study.pk}/audit-events/"
    r = api["admin"].get(f"{url}?actor={cast.users['lead'].pk}")
    assert _ids(r) == [trail["site"].pk, trail["m_delete"].pk]
    r = api["admin"].get(f"{url}?actor={cast.users['lead'].pk}&action=site")
    assert _ids(r) == [trail["site"].pk]
    # The outsider acted only in their own study.
    assert _ids(api["admin"].get(f"{url}?actor={cast.users['outsider'].pk}")) == []


def test_api_event_fields(cast: Any, api: Any, trail: dict[str, AuditEvent]) -> None:
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/?action=membership.update")
    (event,) = r.json()["results"]
    assert event["actor"] == cast.users["admin"].pk
    assert event["actor_email"] == "admin@example.org"
    assert event["details"] == {"before": {"role": "coder"}}
    assert event["at"].startswith("2024-02-15")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=yesterday", "date_from"),
        ("date_to=2024-13-01", "date_to"),
        ("date_from=2024-02-30", "date_from"),
        ("actor=abc", "actor"),
        ("actor=-1", "actor"),
        ("actor=%C2%B2", "actor"),  # "²": str.isdigit() says yes, int() says no
        ("actor=99999999999999999999999", "actor"),
    ],
)
def test_api_bad_filters_are_400(cast: Any, api: Any, trail: dict[str, AuditEvent], query: str, field: str) -> None:
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/?{query}")
    assert r.status_code == 400
    assert field in r.json()


def test_api_is_paginated(cast: Any, api: Any, trail: dict[str, AuditEvent]) -> None:
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/?limit=2")
    body = r.json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"]


# Page -----------------------------------------------------------------------------------------


def _page(clients: Any, cast: Any, query: str = "", **headers: Any) -> str:
    r = clients["admin"].get(f"/studies/{cast.study.pk}/audit/?{query}", **headers)
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The trail is dated 2024; the cast's own sign-ins today are excluded by the date.
        ("date_to=2024-12-31", {"membership.create", "membership.update", "membership.delete", "site.create",
                                "study.update"}),
        ("action=membership", {"membership.create", "membership.update", "membership.delete"}),
        ("action=membership.delete", {"membership.delete"}),
        ("date_from=2024-03-01&date_to=2024-03-31", {"membership.delete", "site.create"}),
    ],
)
def test_page_filters_by_action_and_date(
    cast: Any, clients: Any, trail: dict[str, AuditEvent], query: str, expected: set[str]
) -> None:
    html = _page(clients, cast, query)
    assert entry_count(html) == len(expected)
    table = html.split('<table class="table audit">', 1)[1]
    shown = {a for a in ("membership.create", "membership.update", "membership.delete", "site.create",
                         "study.update") if f"<code>{a}</code>" in table}
    assert shown == expected


def test_page_filters_by_user(cast: Any, clients: Any, trail: dict[str, AuditEvent]) -> None:
    html = _page(clients, cast, f"actor={cast.users['lead'].pk}&date_to=2024-12-31")
    assert entry_count(html) == 2
    table = html.split('<table class="table audit">', 1)[1]
    assert "admin@example.org" not in table
    # The user filter offers the people who acted in this study, and nobody else.
    form = html.split('<table class="table audit">', 1)[0]
    assert "lead@example.org" in form
    assert "outsider@example.org" not in form


def test_page_action_choices_offer_families(cast: Any, clients: Any, trail: dict[str, AuditEvent]) -> None:
    html = _page(clients, cast)
    assert 'value="membership"' in html
    assert 'value="membership.update"' in html


def test_page_never_shows_another_studys_events(cast: Any, clients: Any, trail: dict[str, AuditEvent]) -> None:
    html = _page(clients, cast, "date_from=2024-02-15&date_to=2024-02-15")
    assert entry_count(html) == 1
    assert "outsider@example.org" not in html


def test_page_with_a_bad_date_shows_the_error(cast: Any, clients: Any, trail: dict[str, AuditEvent]) -> None:
    html = _page(clients, cast, "date_from=not-a-date")
    assert "Enter a valid date" in html


def test_page_htmx_request_gets_only_the_table(cast: Any, clients: Any, trail: dict[str, AuditEvent]) -> None:
    html = _page(clients, cast, "action=site", HTTP_HX_REQUEST="true")
    assert "<html" not in html
    assert entry_count(html) == 1


def test_page_paginates(cast: Any, clients: Any) -> None:
    admin = cast.users["admin"]
    AuditEvent.objects.bulk_create(
        AuditEvent(actor=admin, actor_email=admin.email, action="site.update", study=cast.study) for _ in range(55)
    )
    html = _page(clients, cast, "action=site")
    assert entry_count(html) == 55
    assert "Page 1 of 2" in html
    assert "action=site&amp;page=2" in html
    assert "Page 2 of 2" in _page(clients, cast, "action=site&page=2")
    assert "Page 2 of 2" in _page(clients, cast, "action=site&page=999")
    assert "Page 1 of 2" in _page(clients, cast, "action=site&page=abc")
