"""PostgreSQL only: the GIN index for full-text search over speaker turns. (SQLite, the embedded
default, searches with a simpler LIKE fallback and needs no index.)"""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS transcripts_turn_search_gin ON transcripts_transcriptturn USING gin (search)"
DROP = "DROP INDEX IF EXISTS transcripts_turn_search_gin"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("transcripts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
