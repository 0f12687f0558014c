from django.apps import AppConfig


class MatricesConfig(AppConfig):
    name = "analysis.matrices"
    label = "matrices"
    verbose_name = "Matrices"
    default_auto_field = "django.db.models.BigAutoField"
