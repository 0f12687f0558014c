"""The application runs as a database role that owns no table (PostgreSQL): it may read and write rows,
but TRUNCATE, ALTER TABLE … DISABLE TRIGGER, UPDATE and DELETE on the audit trail are refused to it, so the
append-only trail holds against the application itself. Bulk imports still refresh statistics."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import AuditEvent
from accounts.services import audit_record

pytestmark = pytest.mark.django_db(transaction=True)

TAMPERING = [
    "TRUNCATE accounts_auditevent",
    "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only",
    "UPDATE accounts_auditevent SET action = 'rewritten'",
    "DELETE FROM accounts_auditevent",
    "DROP TABLE accounts_auditevent",
]


@pytest.fixture
def app_role(monkeypatch: Any) -> Any:
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's; set DATABASE_URL to a PostgreSQL database")
    import psycopg

    db = connection.settings_dict
    role = f"{db['NAME']}_app"[:63]  # roles are cluster-wide: one per database, so parallel runs do not collide
    monkeypatch.setenv("CHORUS_TEST_APP_DB_PASSWORD", "not-used-with-trust-auth")
    call_command("grant_app_role", role, "--password-env", "CHORUS_TEST_APP_DB_PASSWORD")
    conn = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role,
                           password="not-used-with-trust-auth")
    yield conn
    conn.close()
    with connection.cursor() as cur:
        cur.execute(f"DROP OWNED BY {connection.ops.quote_name(role)}")
        cur.execute(f"DROP ROLE {connection.ops.quote_name(role)}")


def test_the_application_role_cannot_tamper_with_the_audit_trail(cast: Any, app_role: Any) -> None:
    import psycopg

    audit_record(actor=cast.users["admin"], action="test.witness", study=cast.study, details={"n": 1})
    before = list(AuditEvent.objects.order_by("pk").values_list("pk", "action"))
    for sql in TAMPERING:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_role.execute(sql)
        app_role.rollback()
    assert list(AuditEvent.objects.order_by("pk").values_list("pk", "action")) == before
    # ...while doing its ordinary work: read, add an audit row, change other rows, refresh statistics.
    assert app_role.execute("SELECT count(*) FROM accounts_auditevent").fetchone()[0] == len(before)
    app_role.execute("INSERT INTO accounts_auditevent (at, action, object_type, object_id, details, ip, actor_id,"
                     " study_id, actor_email) SELECT at, 'test.app_insert', object_type, object_id, details, ip,"
                     " actor_id, study_id, actor_email FROM accounts_auditevent LIMIT 1")
    app_role.execute("UPDATE accounts_study SET description = 'changed by the app role'")
    app_role.execute("SELECT chorus_maintenance(ARRAY['transcripts_transcriptturn'], ARRAY['transcripts_turn_search_gin'])")
    app_role.commit()
    assert AuditEvent.objects.filter(action="test.app_insert").count() == 1
    owned = app_role.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user").fetchone()[0]
    assert owned == 0


def test_grant_app_role_refuses_sqlite_and_the_app_role_itself() -> None:
    from django.core.management.base import CommandError

    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="PostgreSQL"):
            call_command("grant_app_role", "chorus_app")
        return
    with connection.cursor() as cur:
        cur.execute("SELECT current_user")
        me = cur.fetchone()[0]
    with pytest.raises(CommandError, match="owner"):
        call_command("grant_app_role", me)


def test_a_bulk_transcript_import_refreshes_the_planner_statistics(cast: Any, run_jobs: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    import time

    from analysis.transcripts.models import TranscriptTurn
    from analysis.transcripts.services import imports
    from tests.factories import participant_row

    participant_row(cast, "SU01", "service_user", cast.north)
    table = TranscriptTurn._meta.db_table

    def analysed() -> Any:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_stat_force_next_flush()")
            cur.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table])
            return cur.fetchone()[0]

    before = analysed()
    lead = cast.users["lead"]
    batch = imports.import_preview(actor=lead, study_id=cast.study.pk, uploads=[
        imports.Upload("SU01.txt", b"Interviewer: How was it?\nSU01: The phone kept dropping.\n")])
    batch = imports.import_commit(actor=lead, study_id=cast.study.pk, batch_id=batch.pk)
    job = run_jobs(batch.job_id)
    assert job.status == "done", job.error
    deadline = time.monotonic() + 10
    while analysed() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert analysed() is not None
    assert analysed() != before


@pytest.mark.django_db(transaction=False)
def test_docker_compose_runs_the_application_as_its_own_role() -> None:
    from pathlib import Path

    import yaml

    compose = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "grant_app_role chorus_app" in services["migrate"]["command"]
    assert "migrate" not in str(services["web"].get("command", ""))
    for name, service in services.items():
        url = service.get("environment", {}).get("DATABASE_URL", "")
        if name in ("web", "worker") or (url and name != "migrate"):
            assert url.startswith("postgres://chorus_app:"), name
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
