"""Sign-in events reach us only as django.contrib.auth signals; these receivers hand them to the
audit service and keep no logic of their own."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from .services import audit_record, client_ip

SESSION_AUTH_AT = "chorus_auth_at"


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_AUTH_AT] = timezone.now().timestamp()
    audit_record(actor=user, action="auth.login", ip=client_ip(request))


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action="auth.logout", ip=client_ip(request))


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    audit_record(actor=None, actor_email=email, action="auth.login_failed", ip=client_ip(request))
