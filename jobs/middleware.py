"""A clear 503 instead of a 500 when a service Chorus depends on is away for the moment: the job
queue (starting a job with Redis down) or the database (not answering within its timeouts)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from .services import JobsUnavailable

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (
    "The database is not answering at the moment, so this page could not be shown. Please try again in a minute; "
    "if it keeps happening, tell your administrator."
)


def unavailable_message(exc: Exception) -> tuple[str, str] | None:
    """(title, message) for an outage worth a 503, or None for anything else (a real 500)."""
    if isinstance(exc, JobsUnavailable):
        return "Jobs are unavailable for the moment", exc.message
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "The database is not answering", DATABASE_UNAVAILABLE
    return None


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        found = unavailable_message(exc)
        if found is None:
            return None
        title, message = found
        log.warning("503 for %s %s: %s", request.method, request.path, exc)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message}, status=503)
        else:
            # No request context: the context processors would ask the database that is away.
            referer = request.headers.get("referer", "")
            back = referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else "/"
            response = HttpResponse(
                render_to_string("503.html", {"title": title, "message": message, "back": back}), status=503
            )
        response["Retry-After"] = "60"
        return response
