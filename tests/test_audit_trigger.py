"""On PostgreSQL the audit table is append-only in the database itself (migration 0002's trigger):
UPDATE and DELETE fail whether they come through the ORM or raw SQL, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import AuditEvent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only trigger exists only on PostgreSQL; set DATABASE_URL to a PostgreSQL database",
)


@pytest.fixture
def event(cast: Any) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=cast.users["admin"], actor_email="admin@example.org", action="membership.update",
        study=cast.study, details={"before": {"role": "coder"}, "after": {"role": "lead"}},
    )


def _snapshot() -> list[tuple[Any, ...]]:
    return list(AuditEvent.objects.order_by("id").values_list("id", "action", "actor_email", "details", "at"))


def _refused(fn: Any) -> str:
    """Run ``fn`` in a savepoint; it must fail with the trigger's message."""
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        fn()
    return str(info.value)


def test_trigger_is_installed(db: None) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'accounts_auditevent'::regclass AND NOT tgisinternal"
        )
        assert [r[0] for r in cur.fetchall()] == ["accounts_auditevent_append_only"]


def test_orm_updates_are_refused(event: AuditEvent) -> None:
    before = _snapshot()

    def save() -> None:
        e = AuditEvent.objects.get(pk=event.pk)
        e.action = "membership.create"
        e.save()

    assert "append-only" in _refused(save)
    assert "append-only" in _refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor_email="x@y.z"))
    assert "append-only" in _refused(lambda: AuditEvent.objects.update(details={}))
    assert _snapshot() == before


def test_orm_deletes_are_refused(event: AuditEvent) -> None:
    before = _snapshot()
    assert "append-only" in _refused(lambda: AuditEvent.objects.get(pk=event.pk).delete())
    assert "append-only" in _refused(lambda: AuditEvent.objects.all().delete())
    assert _snapshot() == before


def test_raw_sql_update_and_delete_are_refused(event: AuditEvent) -> None:
    before = _snapshot()

    def raw(sql: str, *params: Any) -> None:
        with connection.cursor() as cur:
            cur.execute(sql, params)

    assert "UPDATE refused" in _refused(lambda: raw("UPDATE accounts_auditevent SET action = %s", "tampered"))
    assert "UPDATE refused" in _refused(
        lambda: raw("UPDATE accounts_auditevent SET details = '{}'::jsonb WHERE id = %s", event.pk)
    )
    assert "DELETE refused" in _refused(lambda: raw("DELETE FROM accounts_auditevent WHERE id = %s", event.pk))
    assert "DELETE refused" in _refused(lambda: raw("DELETE FROM accounts_auditevent"))
    assert _snapshot() == before


def test_inserts_still_work(event: AuditEvent) -> None:
    n = AuditEvent.objects.count()
    AuditEvent.objects.create(action="auth.login_failed", actor_email="someone@example.org")
    assert AuditEvent.objects.count() == n + 1
