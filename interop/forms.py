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


class ProjectTargetForm(ProjectUploadForm):
    """The upload, and where the project goes: into this study, or into a new study made for it."""

    # Not required: a form (or script) that does not say imports into this study, as before.
    target = forms.ChoiceField(
        label="Import into", widget=forms.RadioSelect, initial="this", required=False,
        choices=[("this", "This study"), ("new", "A new study, with me as its lead")],
    )
    new_study_name = forms.CharField(
        label="Name of the new study", max_length=200, required=False,
        help_text="Only for a new study. Its admin tasks (members, consent) need an admin: add one from "
                  "the new study's members page once an admin has joined, or ask your Chorus operator.",
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("target") == "new" and not (data.get("new_study_name") or "").strip():
            self.add_error("new_study_name", "Name the new study.")
        return data


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
