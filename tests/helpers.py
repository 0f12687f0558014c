"""Small helpers shared by the accounts test modules."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.authtoken.models import Token

from accounts.models import AuditEvent, Membership, ParticipantGroup, Site, Study, User
from jobs.models import Job

PASSWORD = "correct horse battery"  # tests/factories.py UserFactory


def db_fingerprint() -> tuple[Any, ...]:
    """Every row a request to accounts/ could write: equal before and after = nothing was written."""
    return (
        list(Study.objects.order_by("pk").values_list("pk", "name", "description")),
        list(Site.objects.order_by("pk").values_list("pk", "study_id", "name")),
        list(ParticipantGroup.objects.order_by("pk").values_list("pk", "key")),
        list(Membership.objects.order_by("pk").values_list("pk", "user_id", "study_id", "role")),
        sorted(Membership.scope_sites.through.objects.values_list("membership_id", "site_id")),
        sorted(Membership.scope_groups.through.objects.values_list("membership_id", "participantgroup_id")),
        list(User.objects.order_by("pk").values_list("pk", "email", "password", "is_active")),
        list(Token.objects.order_by("pk").values_list("pk")),
        AuditEvent.objects.count(),
        Job.objects.count(),
        _themes_fingerprint(),
    )


def _themes_fingerprint() -> tuple[Any, ...]:
    from analysis.themes.models import BoardSettings, Comment, Quote, Reaction, Theme

    return (
        list(Theme.objects.order_by("pk").values_list("pk", "name", "status", "version", "on_board")),
        list(Theme.codes.through.objects.order_by("pk").values_list("theme_id", "code_id")),
        list(Quote.objects.order_by("pk").values_list("pk", "start", "end", "content_note")),
        list(Comment.objects.order_by("pk").values_list("pk", "body", "decision", "resolved_at", "deleted_at")),
        list(Reaction.objects.order_by("pk").values_list("pk", "value")),
        list(BoardSettings.objects.order_by("pk").values_list("pk", "support_line")),
    )


def audit_actions(**filters: Any) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list("action", flat=True))


def entry_count(html: str) -> int:
    """The "N entries" line of the audit table."""
    match = re.search(r"(\d+) entr(?:y|ies)", html)
    assert match, "no entry count on the audit page"
    return int(match.group(1))


def ppi_expect(role: str, expected: Any, url: str) -> Any:
    """What ``role`` gets at ``url`` when the table says ``expected``: a PPI member (board only) asking for a
    piece of the analysis by its id is told 404 instead of 403 (accounts.policy.denial_hides_object)."""
    from urllib.parse import urlsplit

    from django.urls import resolve

    from accounts.policy import ANALYSIS_OBJECT_KWARGS

    if role != "ppi" or expected != 403:
        return expected
    return 404 if ANALYSIS_OBJECT_KWARGS & resolve(urlsplit(url).path).kwargs.keys() else expected


def wait_until(page: Any, expression: str, *, timeout: float = 10_000) -> None:
    """Playwright's ``page.wait_for_function`` under the Content-Security-Policy: Playwright polls its
    predicate with ``eval``, which ``script-src 'self'`` refuses once the first check has failed.
    ``page.evaluate`` runs through the DevTools protocol, which the policy does not govern, so the
    polling happens here instead."""
    import time

    deadline = time.monotonic() + timeout / 1000
    # An expression that throws (the element is not there yet) counts as false, as it is still coming.
    while not page.evaluate(f"() => {{ try {{ return Boolean({expression}); }} catch (e) {{ return false; }} }}"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} ms: {expression}")
        page.wait_for_timeout(50)


def celery_pools_reset(app: Any) -> None:
    """Forget the Celery app's broker connection and producer pools, which keep the broker they were
    first opened for: a test that points the app at another broker must start from fresh pools."""
    # Dropped, not closed: kombu keeps pools in a registry keyed by broker URL and would hand a
    # closed one back to the next test that uses the same broker.
    app._pool = None
    app.amqp._producer_pool = None
