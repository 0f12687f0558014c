"""The consent log is append-only in the database too: on PostgreSQL a trigger refuses DELETE and
any UPDATE that changes a recorded fact. Only the signed-form file and the free-text note may
change (attached later; wiped by a purge). Corrections are new events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION chorus_consent_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'participants_consentevent is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.study_id, NEW.participant_id, NEW.kind, NEW.form_id, NEW.date, NEW.method, NEW.taken_by_id,
        NEW.answers::text, NEW.withdrawal_scope, NEW.corrects_id, NEW.voids, NEW.source, NEW.import_key,
        NEW.recorded_by_id, NEW.recorded_at)
       IS DISTINCT FROM
       (OLD.study_id, OLD.participant_id, OLD.kind, OLD.form_id, OLD.date, OLD.method, OLD.taken_by_id,
        OLD.answers::text, OLD.withdrawal_scope, OLD.corrects_id, OLD.voids, OLD.source, OLD.import_key,
        OLD.recorded_by_id, OLD.recorded_at) THEN
        RAISE EXCEPTION 'participants_consentevent is append-only: record a correction instead'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS participants_consentevent_append_only ON participants_consentevent;
CREATE TRIGGER participants_consentevent_append_only
    BEFORE UPDATE OR DELETE ON participants_consentevent
    FOR EACH ROW EXECUTE FUNCTION chorus_consent_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS participants_consentevent_append_only ON participants_consentevent;
DROP FUNCTION IF EXISTS chorus_consent_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("participants", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
