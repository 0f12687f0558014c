"""Withdrawal with delete_data: the purge job removes the participant's data everywhere and leaves
an audit tombstone. Proven by searching every text column of every table."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from accounts.models import AuditEvent
from jobs.models import Job
from participants import services
from participants.models import ConsentEvent, Participant
from tests.factories import consent, make_form, make_participant

MARKERS = ["Zebediah-Quux", "zq@purge.invalid", "purge-attr-7731", "purge-note-5512", "purge-pdf-9034"]


def rows_containing(text: str) -> list[tuple[str, str]]:
    """(table, column) pairs where any row's text holds ``text`` — every table, every text-like column."""
    found = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names(cur):
            for col in connection.introspection.get_table_description(cur, table):
                type_name = str(col.type_code).lower() if connection.vendor == "sqlite" else col.type_code
                if connection.vendor == "sqlite":
                    if not any(t in type_name for t in ("char", "text", "json", "clob")):
                        continue
                elif type_name not in (25, 1043, 114, 3802):  # text, varchar, json, jsonb
                    continue
                qn = connection.ops.quote_name
                cur.execute(f"SELECT COUNT(*) FROM {qn(table)} WHERE CAST({qn(col.name)} AS TEXT) LIKE %s",
                            [f"%{text}%"])
                if cur.fetchone()[0]:
                    found.append((table, col.name))
    return found


def _seed(cast):
    from django.core.files.base import ContentFile  # noqa: F401

    services.attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Story", kind="text")
    form = make_form(cast)
    p = make_participant(cast, "SU42", name="Zebediah-Quux", contact="zq@purge.invalid",
                         attributes={"story": "purge-attr-7731"}, interview_date="2020-06-10")
    keep = make_participant(cast, "SU43", attributes={"story": "someone else"})
    event = services.consent_event_record(
        actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, form_id=form.pk,
        date=dt.date(2020, 6, 1), answers={"anonymised_quotes": "yes"}, note="purge-note-5512",
        signed_form=b"%PDF-1.4 purge-pdf-9034",
    )
    consent(cast, keep, form)
    return p, keep, event


def _assert_purged(cast, p, keep, event, job):
    assert job.status == "done", job.error
    assert job.result["participant"] == "SU42"
    for marker in MARKERS:
        assert rows_containing(marker) == [], marker
    p = Participant.objects.get(pk=p.pk)
    assert p.purged_at is not None
    assert p.consent_state == "withdrawn_delete"
    assert p.attributes == {}
    assert p.name_encrypted == ""
    assert p.interview_date is None
    ev = ConsentEvent.objects.get(pk=event.pk)
    assert not ev.signed_form
    assert ev.note == ""
    # the pseudonym survives only in the tombstone record and the audit trail
    tables = {t for t, _ in rows_containing("SU42")}
    assert tables <= {"participants_participant", "accounts_auditevent", "jobs_job"}, tables
    tomb = AuditEvent.objects.get(action="participant.purge")
    assert tomb.details["pseudonym"] == "SU42"
    assert tomb.details["scope"] == "delete_data"
    assert tomb.details["withdrawn_on"] == "2020-07-01"
    assert tomb.details["withdrawal_recorded_by"] == "admin@example.org"
    assert tomb.details["removed"]["signed_forms"] == 1
    assert tomb.details["removed"]["identifiable_fields"] == 2
    # the other participant is untouched
    keep = Participant.objects.get(pk=keep.pk)
    assert keep.attributes == {"story": "someone else"}
    assert keep.consent_state == "consented"


@pytest.mark.job
def test_purge_job_removes_everything(cast, run_jobs):
    p, keep, event = _seed(cast)
    stored = event.signed_form.name if event.signed_form else ConsentEvent.objects.get(pk=event.pk).signed_form.name
    from django.core.files.storage import default_storage

    assert default_storage.exists(stored)
    with transaction.atomic():
        _, job = services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                               scope="delete_data", date=dt.date(2020, 7, 1), note="purge-note-5512")
    job = run_jobs(job.pk)
    _assert_purged(cast, p, keep, event, job)
    assert not default_storage.exists(stored)
    # final: nothing more can be recorded, and a re-run is refused
    with pytest.raises(Exception, match="final"):
        services.consent_event_record(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                      form_id=event.form_id, date=dt.date(2020, 8, 1), answers={}, kind="reconsent")
    with pytest.raises(Exception, match="already been deleted"):
        services.participant_purge_retry(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk)


def registered_purger(*, participant):
    registered_purger.calls.append(participant.pseudonym)
    return {"transcripts": 3}


registered_purger.calls = []


@pytest.mark.django_db
def test_registered_purgers_run_and_report(cast, settings, django_capture_on_commit_callbacks):
    settings.CHORUS_PURGERS = ["tests.participants.test_purge.registered_purger"]
    p, keep, event = _seed(cast)
    with django_capture_on_commit_callbacks(execute=False):
        _, job = services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                               scope="delete_data", date=dt.date(2020, 7, 1))
    services.participant_purge_run(job_id=job.pk)
    job = Job.objects.get(pk=job.pk)
    assert registered_purger.calls == ["SU42"]
    assert job.result["removed: transcripts"] == 3
    _assert_purged(cast, p, keep, event, job)
    # a redelivered task does nothing
    assert services.participant_purge_run(job_id=job.pk) is None


@pytest.mark.django_db
def test_purge_refuses_a_participant_who_did_not_ask_for_deletion(cast, django_capture_on_commit_callbacks):
    from accounts.policy import Perm
    from jobs.services import job_create
    from participants.tasks import participant_purge

    p, _, _ = _seed(cast)
    job = job_create(study=cast.study, kind="participant_purge", created_by=cast.users["admin"], perm=Perm.CONSENT_MANAGE,
                     params={"participant_id": p.pk}, task=participant_purge)
    services.participant_purge_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "has not withdrawn" in job.error
    assert Participant.objects.get(pk=p.pk).attributes == {"story": "purge-attr-7731"}


@pytest.mark.django_db
def test_consent_log_append_only_in_postgres(cast):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite is the embedded demo default")
    from django.db import DatabaseError

    _, _, event = _seed(cast)
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(answers={"take_part": False})
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    ConsentEvent.objects.filter(pk=event.pk).update(note="")  # the note may be wiped
