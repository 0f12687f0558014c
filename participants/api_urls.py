from django.urls import URLPattern, URLResolver, path

from . import api

S = "studies/<int:study_id>/"
P = S + "participants/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(P, api.ParticipantListAPI.as_view(), name="api-participant-list"),
    path(P + "<int:participant_id>/", api.ParticipantDetailAPI.as_view(), name="api-participant-detail"),
    path(P + "<int:participant_id>/identifiable/", api.ParticipantIdentifiableAPI.as_view(),
         name="api-participant-identifiable"),
    path(P + "<int:participant_id>/consent-events/", api.ConsentEventListAPI.as_view(), name="api-participant-consent-events"),
    path(S + "participant-attributes/", api.AttributeListAPI.as_view(), name="api-attribute-list"),
    path(S + "participant-attributes/<int:attribute_id>/", api.AttributeDetailAPI.as_view(), name="api-attribute-detail"),
    path(P + "<int:participant_id>/purge/", api.ParticipantPurgeAPI.as_view(), name="api-participant-purge"),
    path(S + "participants-export/", api.ParticipantExportAPI.as_view(), name="api-participant-export"),
    path(S + "consent-forms/", api.ConsentFormListAPI.as_view(), name="api-consent-form-list"),
    path(S + "consent-forms/<int:form_id>/", api.ConsentFormDetailAPI.as_view(), name="api-consent-form-detail"),
    path(S + "consent-events/", api.ConsentEventStudyListAPI.as_view(), name="api-consent-event-list"),
    path(S + "consent-events/<int:event_id>/signed-form/", api.SignedFormAPI.as_view(), name="api-consent-signed-form"),
    path(S + "consent-dashboard/", api.ConsentDashboardAPI.as_view(), name="api-consent-dashboard"),
    path(S + "sampling-frame/", api.SamplingFrameAPI.as_view(), name="api-sampling-frame"),
    path(S + "imports/participants/", api.ParticipantImportAPI.as_view(), name="api-import-participants"),
    path(S + "imports/consent/", api.ConsentImportAPI.as_view(), name="api-import-consent"),
]
