from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="job",
            name="required_perm",
            field=models.CharField(default="study.view", max_length=40),
            preserve_default=False,
        ),
    ]
