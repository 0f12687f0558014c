"""The one error body shape of the API (docs/api.md, "Errors"): composed by config.api.exception_handler for
errors DRF raises, and by :class:`ErrorBodyMiddleware` for the rest. No DRF import here: DRF's settings import
config.api, and the test suite imports this module on its own."""

from __future__ import annotations

import json
from typing import Any


def _messages(value: Any) -> list[str]:
    """Every message in a DRF error value (a string, a list, nested lists and objects), in order."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _messages(v)]
    return [str(value)] if value is not None else []


def error_body(data: Any, status: int) -> dict[str, Any]:
    """The one error shape of the API: a JSON object whose ``detail`` is a sentence to show a person.
    Invalid input also names each field it refuses, ``{"field": ["message", ...]}``, beside ``detail``;
    some errors add context (``current``: the object now, on a 409). See docs/api.md, "Errors"."""
    if isinstance(data, dict):
        body = dict(data)
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return body
        if detail is not None:  # a list of messages under "detail": one sentence
            body["detail"] = " ".join(_messages(detail)) or _STATUS_TEXT.get(status, "The request failed.")
            return body
        general = body.pop("non_field_errors", None)
        fields = [(k, _messages(v)) for k, v in body.items()]
        parts = _messages(general) + [f"{k}: {msgs[0]}" for k, msgs in fields if msgs]
        body["detail"] = " ".join(parts[:1]) + (f" (and {len(parts) - 1} more)" if len(parts) > 1 else "") \
            if parts else _STATUS_TEXT.get(status, "The request failed.")
        return body
    messages = _messages(data)
    return {"detail": " ".join(messages) if messages else _STATUS_TEXT.get(status, "The request failed.")}


_STATUS_TEXT = {
    400: "The request is not valid.", 401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.", 404: "Not found.", 405: "Method not allowed.",
    409: "The request conflicts with the current state.", 413: "The request is too large.",
    415: "Unsupported media type.", 429: "Too many requests.", 503: "The service is unavailable for the moment.",
}


class ErrorBodyMiddleware:
    """Every API error that did not come through :func:`exception_handler` (a view answering an error
    itself, Django's CSRF refusal or unknown path, a limit refused before DRF) gets the same shape."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400 or getattr(response, "streaming", False):
            return response
        content_type = response.get("Content-Type", "")
        data: Any = None
        if content_type.startswith("application/json"):
            try:
                data = json.loads(response.content or b"null")
            except ValueError:
                data = None
        elif response.content:
            data = response.content.decode("utf-8", "replace").strip()[:500] or None
        body = error_body(data, response.status_code)
        if body != data:
            response.content = json.dumps(body).encode()
            response["Content-Type"] = "application/json"
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
