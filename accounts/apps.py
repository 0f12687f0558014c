from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, studies and access"

    def ready(self) -> None:
        # Django reports sign-ins only through auth signals; the receivers just call the audit service.
        from . import receivers  # noqa: F401
