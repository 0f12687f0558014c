"""Chorus's URLs plus a page and an API path that fail, to test what a 500 answer carries."""

from typing import Any

from django.urls import path

from config.urls import handler403, handler404, handler500
from config.urls import urlpatterns as chorus_urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: Any) -> Any:
    raise RuntimeError("an unexpected failure")


urlpatterns = [*chorus_urlpatterns, path("boom/", boom), path("api/v1/boom/", boom)]
