from __future__ import annotations

from django import forms

from accounts.models import Membership, ParticipantGroup, Site
from analysis.coding.models import Code


class ProjectUploadForm(forms.Form):
    project_file = forms.FileField(
        label="Project file (.qdpx)",
        widget=forms.ClearableFileInput(attrs={"accept": ".qdpx,.zip"}),
        help_text="A REFI-QDA project exported from NVivo, ATLAS.ti, MAXQDA, QualCoder or Chorus. "
                  "You will see what it contains, and choose, before anything is imported.",
    )


class ExportForm(forms.Form):
    sites = forms.ModelMultipleChoiceField(queryset=Site.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple, label="Sites",
                                           help_text="None ticked: every site.")
    groups = forms.ModelMultipleChoiceField(queryset=ParticipantGroup.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple, label="Participant groups",
                                            help_text="None ticked: every group.")
    codes = forms.ModelMultipleChoiceField(queryset=Code.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple, label="Codes",
                                           help_text="None ticked: the whole codebook. A code brings its sub-codes.")
    coders = forms.ModelMultipleChoiceField(queryset=Membership.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple, label="Coders",
                                            help_text="None ticked: everyone's codings.")

    def __init__(self, *args: object, study_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["sites"].queryset = Site.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
        self.fields["groups"].queryset = ParticipantGroup.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
        self.fields["codes"].queryset = Code.objects.filter(study_id=study_id, parent__isnull=True)  # type: ignore[attr-defined]
        self.fields["coders"].queryset = Membership.objects.filter(  # type: ignore[attr-defined]
            study_id=study_id, role__in=("lead", "coder")).select_related("user").order_by("user__full_name")
        self.fields["coders"].label_from_instance = lambda m: m.user.display_name  # type: ignore[attr-defined]
