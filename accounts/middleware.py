"""Idle and absolute session expiry (30 minutes idle, 12 hours absolute by default).

Django's session framework has one expiry; clinical data needs both, so the times are kept in
the session and checked on every request.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import policy
from .receivers import SESSION_AUTH_AT

SESSION_LAST_SEEN = "chorus_last_seen"


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = timezone.now().timestamp()
            session = request.session
            auth_at = session.get(SESSION_AUTH_AT, now)
            last_seen = session.get(SESSION_LAST_SEEN, now)
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            if now - auth_at > absolute:
                logout(request)
                hours = round(absolute / 3600)
                messages.info(
                    request, f"You were signed out because a session lasts at most {hours} hours. Please sign in again."
                )
            elif now - last_seen > idle:
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity. Please sign in again.")
            else:
                session.setdefault(SESSION_AUTH_AT, auth_at)
                # Writing at most once a minute keeps the session table quiet on busy pages.
                if now - last_seen > 60 or SESSION_LAST_SEEN not in session:
                    session[SESSION_LAST_SEEN] = now
        return self.get_response(request)


class StudyMembershipMiddleware:
    """Pages under /studies/<id>/ answer 404 to a signed-in non-member before the view reads its input:
    a form posted to another study's page must not say which field was wrong. Anonymous visitors go on
    to the view, which sends them to sign in. (The API does the same in accounts.permissions.StudyMember.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if "study_id" in kwargs:
            policy.study_member_or_404(user=request.user, study_id=kwargs["study_id"])
