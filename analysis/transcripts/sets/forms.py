"""Forms of the transcript-set pages. The services validate again (the API has no form): these give the
browser its labels, limits and first errors."""

from __future__ import annotations

from django import forms

from .services import DESCRIPTION_MAX, NAME_MAX


class SetForm(forms.Form):
    name = forms.CharField(label="Name", max_length=NAME_MAX,
                           help_text="Unique in this study, for example “Carers, first wave”.")
    description = forms.CharField(label="Description", required=False, max_length=DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What the set is for, so the team can tell sets apart.")
