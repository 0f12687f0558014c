from django.db import migrations, models


def backfill(apps, schema_editor):
    """Record the newline offsets of the transcripts that exist (``text.newline_offsets``)."""
    from analysis.transcripts.text import newline_offsets

    Transcript = apps.get_model("transcripts", "Transcript")
    batch = []
    for pk, text in Transcript.objects.order_by("pk").values_list("pk", "text").iterator(chunk_size=100):
        batch.append(Transcript(pk=pk, newlines=newline_offsets(text)))
        if len(batch) == 100:
            Transcript.objects.bulk_update(batch, ["newlines"])
            batch = []
    if batch:
        Transcript.objects.bulk_update(batch, ["newlines"])


class Migration(migrations.Migration):

    dependencies = [
        ('transcripts', '0003_import_item_parsed'),
    ]

    operations = [
        migrations.AddField(
            model_name='transcript',
            name='newlines',
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
