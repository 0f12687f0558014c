from django.urls import path

from analysis.matrices import api

S = "studies/<int:study_id>/"
M = S + "matrices/<int:matrix_id>/"

urlpatterns = [
    path(S + "matrices/", api.MatrixListAPI.as_view(), name="api-matrix-list"),
    path(M, api.MatrixDetailAPI.as_view(), name="api-matrix-detail"),
    path(M + "refresh/", api.MatrixRefreshAPI.as_view(), name="api-matrix-refresh"),
    path(M + "cancel/", api.MatrixCancelAPI.as_view(), name="api-matrix-cancel"),
    path(M + "cell/", api.MatrixCellAPI.as_view(), name="api-matrix-cell"),
    path(M + "export/<str:fmt>/", api.MatrixExportAPI.as_view(), name="api-matrix-export"),
]
