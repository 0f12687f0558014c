from django.urls import path

from analysis.matrices import views
from analysis.matrices.framework import views as framework

S = "studies/<int:study_id>/"
M = S + "matrices/<int:matrix_id>/"
F = S + "matrices/framework/<int:chart_id>/"

urlpatterns = [
    path(S + "matrices/", views.matrix_list, name="matrix-list"),
    path(M, views.matrix_detail, name="matrix-detail"),
    path(M + "refresh/", views.matrix_refresh, name="matrix-refresh"),
    path(M + "cancel/", views.matrix_cancel, name="matrix-cancel"),
    path(M + "cell/", views.matrix_cell, name="matrix-cell"),
    path(M + "export/<str:fmt>/", views.matrix_export, name="matrix-export"),
    path(S + "matrices/framework/", framework.framework_list, name="framework-list"),
    path(F, framework.framework_detail, name="framework-detail"),
    path(F + "delete/", framework.framework_delete, name="framework-delete"),
    path(F + "cells/<int:participant_id>/<int:theme_id>/", framework.framework_cell, name="framework-cell"),
    path(F + "export/<str:fmt>/", framework.framework_export, name="framework-export"),
]
