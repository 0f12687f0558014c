"""The matrix request form. Choices are loaded from the study; the engine's ``spec_parse`` is the one
validator of the request, so the page and the API refuse the same things."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import ParticipantGroup, Site
from analysis.coding.models import Code
from analysis.themes.models import Theme
from participants.models import AttributeDefinition

from . import bands


class MatrixForm(forms.Form):
    columns = forms.ChoiceField(label="Columns", choices=[("codes", "Codes"), ("themes", "Themes")], initial="codes")
    codes = forms.MultipleChoiceField(label="Codes (none chosen: all codes)", required=False,
                                      widget=forms.CheckboxSelectMultiple)
    themes = forms.MultipleChoiceField(label="Themes (none chosen: all themes)", required=False,
                                       widget=forms.CheckboxSelectMultiple)
    rows = forms.ChoiceField(label="Rows", choices=[("group", "Participant groups"), ("site", "Sites"),
                                                    ("attribute", "A participant attribute"),
                                                    ("participant", "Individual participants"),
                                                    ("codes", "Codes: code co-occurrence (codes × codes)")])
    attribute = forms.ChoiceField(label="Attribute (for attribute rows)", required=False)
    bands = forms.CharField(label="Bands (for a number or date attribute)", required=False, max_length=500,
                            help_text=bands.HINT + " Values outside every band form their own row.")
    coder = forms.ChoiceField(label="Coder")
    sites = forms.MultipleChoiceField(label="Only these sites (none chosen: all)", required=False,
                                      widget=forms.CheckboxSelectMultiple)
    groups = forms.MultipleChoiceField(label="Only these participant groups (none chosen: all)", required=False,
                                       widget=forms.CheckboxSelectMultiple)
    transcript_set = forms.ChoiceField(
        label="Only the transcripts of this transcript set", required=False,
        help_text="A saved selection of transcripts (Data → Transcript sets). The matrix counts the set's "
                  "transcripts as they are now; if the set changes later, the matrix shows as out of date.")
    transcripts = forms.MultipleChoiceField(label="Or only these transcripts (none chosen: all)", required=False,
                                            widget=forms.CheckboxSelectMultiple)
    skip_interviewer = forms.BooleanField(label="Leave out segments inside interviewer turns", required=False)

    def __init__(self, *args: Any, study_id: int, coders: list[tuple[int, str]],
                 transcripts: list[tuple[int, str]] | None = None,
                 transcript_sets: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        f = self.fields
        f["codes"].choices = [(str(pk), n) for pk, n in Code.objects.filter(study_id=study_id, is_codable=True)  # type: ignore[attr-defined]
                              .order_by("name").values_list("pk", "name")]
        f["themes"].choices = [(str(pk), n) for pk, n in Theme.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
                               .order_by("position", "name").values_list("pk", "name")]
        f["attribute"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (k, lbl) for k, lbl in AttributeDefinition.objects.filter(study_id=study_id).values_list("key", "label")]
        f["coder"].choices = [("all", "All coders"), ("agreed", "Agreed: both coders of a double-coded transcript")] + [  # type: ignore[attr-defined]
            (str(pk), name) for pk, name in coders]
        f["sites"].choices = [(str(pk), n) for pk, n in Site.objects.filter(study_id=study_id).values_list("pk", "name")]  # type: ignore[attr-defined]
        # The transcripts the member may see (the view passes them): a scoped coder never sees other titles.
        f["transcripts"].choices = [(str(pk), label) for pk, label in transcripts or []]  # type: ignore[attr-defined]
        f["transcript_set"].choices = [("", "No set: all transcripts, or those ticked below")] + [  # type: ignore[attr-defined]
            (str(pk), label) for pk, label in transcript_sets or []]
        f["groups"].choices = [(str(pk), n) for pk, n in ParticipantGroup.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
                               .order_by("position").values_list("pk", "label")]

    def raw(self) -> dict[str, Any]:
        d = self.cleaned_data
        # Co-occurrence sets the chosen codes against themselves: its columns are codes whatever is ticked.
        columns = "codes" if d["rows"] == "codes" else d["columns"]
        return {
            "columns": columns, "column_ids": d["themes"] if columns == "themes" else d["codes"],
            "rows": d["rows"], "attribute": d.get("attribute") or "", "bands": d.get("bands") or "",
            "coder": d["coder"],
            "site_ids": d["sites"], "group_ids": d["groups"], "transcript_ids": d["transcripts"], "skip_interviewer": d["skip_interviewer"],
            "transcript_set_id": d.get("transcript_set") or None,
        }
