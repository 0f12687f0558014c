from django.urls import path

from analysis.matrices import views

S = "studies/<int:study_id>/"
M = S + "matrices/<int:matrix_id>/"

urlpatterns = [
    path(S + "matrices/", views.matrix_list, name="matrix-list"),
    path(M, views.matrix_detail, name="matrix-detail"),
    path(M + "refresh/", views.matrix_refresh, name="matrix-refresh"),
    path(M + "cancel/", views.matrix_cancel, name="matrix-cancel"),
    path(M + "cell/", views.matrix_cell, name="matrix-cell"),
    path(M + "export/<str:fmt>/", views.matrix_export, name="matrix-export"),
]
