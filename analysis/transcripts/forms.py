from __future__ import annotations

from typing import Any

from django import forms

from analysis.transcripts.importers import ENCODINGS
from analysis.transcripts.models import SpeakerRole


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".txt,.docx,.vtt,.srt,.zip"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    transcript_files = MultipleFileField(
        label="Transcript files",
        help_text=(
            "Choose one or more .txt, .docx, .vtt or .srt files, or one .zip of them. Name each file after "
            "the participant's pseudonym, for example SU01.docx. You will see a check of every file before "
            "anything is imported."
        ),
    )
    encoding = forms.ChoiceField(
        label="Text encoding", required=False,
        choices=[("", "Work it out (recommended)"), *ENCODINGS.items()],
        help_text="Only needed if a plain-text file was refused because its encoding could not be worked out.",
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search transcripts", max_length=300, required=False,
        help_text='Words find their other forms too (“phone” finds “phoned”). Use "quotes" for a phrase, '
                  "-word to leave a word out, or to find either word.",
    )
    group = forms.TypedChoiceField(label="Participant group", required=False, coerce=int, empty_value=None)
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None)
    role = forms.ChoiceField(
        label="Who is speaking", required=False,
        choices=[("", "Anyone"), (SpeakerRole.PARTICIPANT, "Participants only"),
                 (SpeakerRole.INTERVIEWER, "Interviewers only")],
    )

    # The embedded default (SQLite) matches words as written; promising word forms there misleads.
    BASIC_HELP = ("Every word must appear as written: “phone” does not find “phoned” (this installation uses the "
                  "simple search; word forms, phrases and OR need PostgreSQL). Use -word to leave a word out.")

    def __init__(self, *args: Any, groups: Any = (), sites: Any = (), backend: str = "postgresql",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if backend != "postgresql":
            self.fields["q"].help_text = self.BASIC_HELP
        self.fields["group"].choices = [("", "All groups"), *[(g.pk, g.label) for g in groups]]  # type: ignore[attr-defined]
        self.fields["site"].choices = [("", "All sites"), *[(s.pk, s.name) for s in sites]]  # type: ignore[attr-defined]


class ReplaceForm(forms.Form):
    start = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    end = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    expected = forms.CharField(strip=False, widget=forms.HiddenInput, max_length=5000)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    replacement = forms.CharField(label="Replace with", required=False, strip=False, max_length=500)


class ReplaceAllForm(forms.Form):
    find = forms.CharField(label="Find", max_length=500, strip=False)
    replacement = forms.CharField(label="Replace with", required=False, strip=False, max_length=500,
                                  help_text="For a redaction use a marker such as [NAME] or [PLACE].")
    match_case = forms.BooleanField(label="Match upper and lower case exactly", required=False)
    whole_word = forms.BooleanField(label="Whole words only", required=False, initial=True)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
