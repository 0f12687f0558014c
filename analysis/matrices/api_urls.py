from django.urls import path

from analysis.matrices import api
from analysis.matrices.framework import api as framework

S = "studies/<int:study_id>/"
M = S + "matrices/<int:matrix_id>/"
F = S + "matrices/framework/<int:chart_id>/"
C = F + "cells/<int:participant_id>/<int:theme_id>/"

urlpatterns = [
    path(S + "matrices/", api.MatrixListAPI.as_view(), name="api-matrix-list"),
    path(M, api.MatrixDetailAPI.as_view(), name="api-matrix-detail"),
    path(M + "refresh/", api.MatrixRefreshAPI.as_view(), name="api-matrix-refresh"),
    path(M + "cancel/", api.MatrixCancelAPI.as_view(), name="api-matrix-cancel"),
    path(M + "cell/", api.MatrixCellAPI.as_view(), name="api-matrix-cell"),
    path(M + "export/<str:fmt>/", api.MatrixExportAPI.as_view(), name="api-matrix-export"),
    path(S + "matrices/framework/", framework.FrameworkChartListAPI.as_view(), name="api-framework-list"),
    path(F, framework.FrameworkChartDetailAPI.as_view(), name="api-framework-detail"),
    path(C, framework.FrameworkCellAPI.as_view(), name="api-framework-cell"),
    path(C + "segments/", framework.FrameworkCellSegmentsAPI.as_view(), name="api-framework-segments"),
    path(F + "export/<str:fmt>/", framework.FrameworkExportAPI.as_view(), name="api-framework-export"),
]
