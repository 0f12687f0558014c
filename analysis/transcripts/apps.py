from django.apps import AppConfig


class TranscriptsConfig(AppConfig):
    name = "analysis.transcripts"
    label = "transcripts"
    verbose_name = "Transcripts"
