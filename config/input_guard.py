"""Input every request must pass before any view sees it, checked in one place rather than field by field.

* NUL characters: PostgreSQL cannot store them in text, so a NUL that reaches a query or an INSERT is
  a 500 (``DataError``). Any NUL in a query string (pages and API) or in a request body's strings
  (JSON, form and multipart fields; not uploaded file contents) is a 400 naming the parameter.
* Numbers: JSON ``1e400`` becomes ``inf`` and ``int(inf)`` raises ``OverflowError``; an integer beyond
  64 bits overflows the database. Both are refused by the JSON parser, and oversized integers in a query
  string by the middleware.
* Request limits (Django's body size, number of files and fields, multipart syntax): Django answers a
  bare "Bad Request (400)"; :func:`request_limit_message` says which limit and what to do instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

NUL_MESSAGE = "Null characters are not allowed."
MAX_INT = 2**63 - 1  # the largest value a 64-bit database integer holds
_DIGITS = re.compile(r"[+-]?\d+")
# Query parameters holding words a person typed (a search for a long number must still work).
FREE_TEXT_PARAMS = frozenset({"q", "search", "find", "action", "text"})


class InputRefused(ValueError):
    """Input no view should see; the message says what was wrong, ``field`` where (a dotted path)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def format_bytes(n: int) -> str:
    """Sizes as people read them on the limit they were given: 50 MiB, not "52 MB"."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"


def check_strings(value: Any, where: str = "") -> None:
    """Raise :class:`InputRefused` naming the field if any string (or key) of a parsed body holds a NUL
    character, or any number is beyond what a database column holds (``inf`` from ``1e400``, ``NaN``,
    integers beyond 64 bits)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InputRefused(NUL_MESSAGE, where)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InputRefused(f"The number is too large (at most {MAX_INT}).", where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputRefused("The number is too large.", where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, where)
            check_strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            check_strings(item, where)


def json_int(text: str) -> int:
    """``parse_int`` for json.loads: never asks Python to convert thousands of digits (which fails with a
    message about ``sys.set_int_max_str_digits()``); an integer too long for 64 bits becomes one just
    beyond the limit, which :func:`check_strings` then refuses naming its field."""
    if len(text.lstrip("+-")) > 19:
        return -(MAX_INT + 1) - 1 if text.startswith("-") else MAX_INT + 1
    return int(text)


def json_constant(text: str) -> float:
    """``NaN``, ``Infinity``: kept as floats so that :func:`check_strings` refuses them naming the field."""
    return float(text)


def query_problem(params: Any, *, numbers: bool = True) -> tuple[str, str] | None:
    """(parameter, message) for the first query parameter no view should see, or None. ``numbers``: also
    refuse integers beyond 64 bits (the API; pages already ignore an id they cannot use)."""
    for key in params:
        if "\x00" in key:
            return key.replace("\x00", ""), NUL_MESSAGE
        for value in params.getlist(key):
            if "\x00" in value:
                return key, NUL_MESSAGE
            if numbers and key not in FREE_TEXT_PARAMS and _DIGITS.fullmatch(value.strip()) and (
                len(value.strip().lstrip("+-")) > 19 or abs(int(value)) > MAX_INT
            ):
                return key, f"The number is too large (at most {MAX_INT})."
    return None


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, message: str, *, field: str | None = None, status: int = 400) -> HttpResponse:
    if is_api(request):
        return JsonResponse({field: [message]} if field else {"detail": message}, status=status)
    return render(request, "400.html", {"message": message}, status=status)


class QueryStringGuardMiddleware:
    """Pages: refuses a query string holding a NUL character. It runs as the view is chosen, after
    accounts.middleware.StudyMembershipMiddleware, so a non-member still gets 404 first. The API does the
    same after its membership check (:func:`refuse_bad_query`, called by accounts.permissions.StudyMember)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if is_api(request):
            return None
        problem = query_problem(request.GET, numbers=False)
        if problem is None:
            return None
        param, message = problem
        return bad_request(request, f"{param}: {message}")


def refuse_bad_query(request: Any) -> None:
    """API: a NUL character or an integer beyond 64 bits in the query string is a 400 naming the parameter."""
    from rest_framework.exceptions import ValidationError

    problem = query_problem(request.query_params)
    if problem is not None:
        raise ValidationError({problem[0]: [problem[1]]})


def request_limit_message(exc: BaseException) -> tuple[int, str] | None:
    """(status, message) for Django's request limits, which otherwise answer a bare 400."""
    if isinstance(exc, RequestDataTooBig):
        limit = format_bytes(int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0))
        return 413, (f"The request is too large: form fields and JSON bodies may hold at most {limit} (files are "
                     "counted separately). Send less at once, or upload the content as a file.")
    if isinstance(exc, TooManyFilesSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, (f"Too many files in one upload: at most {n}. Upload them in smaller batches, or put the "
                     "folder into a .zip file and upload that.")
    if isinstance(exc, TooManyFieldsSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, f"Too many form fields in one request: at most {n}. Send fewer at once."
    if isinstance(exc, MultiPartParserError):
        return 400, ("The upload could not be read: the request was not a complete file upload (multipart "
                     "form). Try again with your browser's upload form, or check how your script sends files.")
    return None
