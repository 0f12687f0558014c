"""The API documentation pages under the Content-Security-Policy."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe


@require_safe
def redoc_moved(request: HttpRequest) -> HttpResponse:
    """Redoc cannot run under the Content-Security-Policy (it injects unhashed <style> elements, runs
    its search in a blob: worker and loads its logo from its vendor's CDN), so its old address leads
    to Swagger UI, which shows the same schema. Temporary (302), in case Redoc returns."""
    return redirect("api-docs")
