"""Framework chart forms. Choices come from the study; the services are the validators, so the page and
the API refuse the same things."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import ParticipantGroup, Site
from analysis.themes.models import Theme

from .services import NAME_MAX, SUMMARY_MAX, VERSION_MAX


class ChartForm(forms.Form):
    name = forms.CharField(label="Name", max_length=NAME_MAX)
    themes = forms.MultipleChoiceField(label="Themes (the columns; none chosen: every theme)", required=False,
                                       widget=forms.CheckboxSelectMultiple)
    groups = forms.MultipleChoiceField(label="Only these participant groups (none chosen: all)", required=False,
                                       widget=forms.CheckboxSelectMultiple)
    sites = forms.MultipleChoiceField(label="Only these sites (none chosen: all)", required=False,
                                      widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, study_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        f = self.fields
        f["themes"].choices = [(str(pk), n) for pk, n in Theme.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
                               .order_by("position", "name").values_list("pk", "name")]
        f["groups"].choices = [(str(pk), n) for pk, n in ParticipantGroup.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
                               .order_by("position").values_list("pk", "label")]
        f["sites"].choices = [(str(pk), n) for pk, n in Site.objects.filter(study_id=study_id)  # type: ignore[attr-defined]
                              .order_by("name").values_list("pk", "name")]


class CellForm(forms.Form):
    summary = forms.CharField(label="Summary", required=False, max_length=SUMMARY_MAX, strip=False,
                              widget=forms.Textarea(attrs={"rows": 10}),
                              help_text=f"Plain text, at most {SUMMARY_MAX:,} characters. Every saved version is kept.")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=VERSION_MAX)
