"""API-wide error handling: every failure is a clear 4xx with a JSON body, never a 500 page."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, parsers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts import policy


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from jobs.middleware import unavailable_message

    if (found := unavailable_message(exc)) is not None:
        # The job queue or the database is away for the moment: 503 with what to do, not a 500.
        return Response({"detail": found[1]}, status=503, headers={"Retry-After": "60"})
    if isinstance(exc, DjangoValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.PermissionDenied):
        request = context.get("request")
        if request is not None and policy.denial_hides_object(user=request.user, kwargs=context.get("kwargs") or {}):
            exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but JSON nested deeper than Python's recursion limit is a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
