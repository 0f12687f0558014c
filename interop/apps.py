from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "interop"
    label = "interop"
    verbose_name = "REFI-QDA projects in and out"
