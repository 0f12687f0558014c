from django.urls import URLPattern, URLResolver, path

from . import views

P = "studies/<int:study_id>/participants/"
PP = P + "<int:participant_id>/"
C = "studies/<int:study_id>/consent/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(P, views.participant_list, name="participant-list"),
    path(P + "new/", views.participant_create, name="participant-create"),
    path(P + "import/", views.participants_import, name="participants-import"),
    path(P + "export/", views.participants_export, name="participants-export"),
    path(P + "attributes/", views.attribute_list, name="attribute-list"),
    path(P + "attributes/<int:attribute_id>/delete/", views.attribute_delete, name="attribute-delete"),
    path(PP, views.participant_detail, name="participant-detail"),
    path(PP + "edit/", views.participant_edit, name="participant-edit"),
    path(PP + "identifiable/", views.participant_identifiable, name="participant-identifiable"),
    path(PP + "consent/new/", views.consent_record, name="consent-record"),
    path(PP + "withdraw/", views.participant_withdraw, name="participant-withdraw"),
    path(PP + "purge/", views.participant_purge_retry, name="participant-purge-retry"),
    path(PP + "consent/<int:event_id>/correct/", views.consent_correct, name="consent-correct"),
    path(PP + "consent/<int:event_id>/signed-form/", views.consent_signed_form, name="consent-signed-form"),
    path(C, views.consent_dashboard, name="consent-dashboard"),
    path(C + "forms/", views.consent_form_list, name="consent-form-list"),
    path(C + "forms/new/", views.consent_form_create, name="consent-form-create"),
    path(C + "import/", views.consent_import, name="consent-import"),
    path("studies/<int:study_id>/sampling/", views.sampling_frame, name="sampling-frame"),
]
