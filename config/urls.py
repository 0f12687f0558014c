from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api_docs import redoc_moved

api_v1: list[URLPattern | URLResolver] = [
    path("", include("accounts.api_urls")),
    path("", include("participants.api_urls")),
    path("", include("analysis.coding.api_urls")),
    path("", include("analysis.transcripts.api_urls")),
    path("", include("analysis.themes.api_urls")),
    path("", include("analysis.matrices.api_urls")),
    path("", include("jobs.api_urls")),
    path("", include("interop.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script as a file: the page needs nothing inline.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", redoc_moved, name="api-redoc"),
]

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("participants.urls")),
    path("", include("analysis.coding.urls")),
    path("", include("analysis.transcripts.urls")),
    path("", include("analysis.themes.urls")),
    path("", include("analysis.matrices.urls")),
    path("", include("jobs.urls")),
    path("", include("interop.urls")),
    path("api/v1/", include(api_v1)),
    path("django-admin/", admin.site.urls),
]

handler400 = "accounts.views.error_400"
handler403 = "accounts.views.error_403"
handler404 = "accounts.views.error_404"
handler500 = "accounts.views.error_500"
