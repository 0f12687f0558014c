"""API-wide error handling: every failure is a clear 4xx with a JSON body, never a 500 page; and the
parsers every API view uses, which refuse NUL characters and numbers no column holds (config/input_guard.py)."""

import codecs
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, parsers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts import policy

from .api_errors import error_body
from .input_guard import (
    InputRefused,
    check_strings,
    json_constant,
    json_int,
    request_limit_message,
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _exception_response(exc, context)
    if response is not None:
        response.data = error_body(response.data, response.status_code)
    return response


def _exception_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    limit = request_limit_message(exc)
    if limit is not None:
        return Response({"detail": limit[1]}, status=limit[0])
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
    """DRF's JSON parser, but JSON nested deeper than Python's recursion limit, a NUL in any string,
    ``1e400``, ``NaN`` and integers beyond 64 bits are a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(codecs.getreader(encoding)(stream), parse_int=json_int, parse_constant=json_constant)
            check_strings(data)
        except InputRefused as exc:
            raise _refused(exc) from exc
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON ({exc}).") from exc
        return data


def _refused(exc: InputRefused) -> exceptions.APIException:
    """A 400 naming the field, as DRF names a field that fails validation."""
    if exc.field:
        return exceptions.ValidationError({exc.field: [str(exc)]})
    return exceptions.ParseError(str(exc))


def _checked(result: Any) -> Any:
    data = result.data if isinstance(result, parsers.DataAndFiles) else result
    try:
        for key in data:
            check_strings(key)
            for value in data.getlist(key):
                check_strings(value, key)
    except InputRefused as exc:
        raise _refused(exc) from exc
    return result


class FormParser(parsers.FormParser):
    """DRF's form parser with the same NUL check as JSON bodies (file contents are not checked)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return _checked(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser with the NUL check on form fields, and an unreadable body explained."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            result = super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as exc:
            raise exceptions.ParseError(
                "The upload could not be read: the request was not a complete file upload (multipart form). "
                "Try again, or check how your script sends files."
            ) from exc
        return _checked(result)


# Fields sent that no view reads: a browser form's CSRF token (session-authenticated API calls).
_IGNORED_FIELDS = frozenset({"csrfmiddlewaretoken"})


def unknown_fields_error(keys: Any, known: Any) -> exceptions.ValidationError | None:
    unknown = sorted(str(k) for k in set(keys) - set(known) - _IGNORED_FIELDS)
    if not unknown:
        return None
    names = ", ".join(sorted(known))
    return exceptions.ValidationError(
        {k: [f"Unknown field. This endpoint accepts: {names}." if names else "Unknown field."] for k in unknown}
    )


class StrictFieldsMixin:
    """For write serializers: a field the serializer does not take (misspelt, read-only, from another
    endpoint) is a 400 naming it, never silently ignored with a 200 that changed nothing."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            fields = self.fields  # type: ignore[attr-defined]
            error = unknown_fields_error(data.keys(), [n for n, f in fields.items() if not f.read_only])
            if error is not None:
                raise error
        return super().to_internal_value(data)  # type: ignore[misc]


def only_fields(data: Any, known: Any) -> Any:
    """The same rule for views that read a plain JSON object: ``data`` if it holds only ``known`` keys."""
    if hasattr(data, "keys"):
        error = unknown_fields_error(data.keys(), known)
        if error is not None:
            raise error
    return data
