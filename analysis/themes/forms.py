"""Forms of the theme pages and the board. They check shape and length; the services decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms

from analysis.themes.models import CommentKind, DigestEvery, ReactionValue, Theme, ThemeStatus
from analysis.themes.services import common as service_limits


class ThemeForm(forms.Form):
    name = forms.CharField(max_length=service_limits.NAME_MAX)
    description = forms.CharField(
        label="Description for the team", required=False, max_length=service_limits.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}))
    plain_description = forms.CharField(
        label="Plain-language description for the PPI board", required=False, max_length=service_limits.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Short sentences, no jargon: say what the theme is about. Leave empty to use the team's description.")
    status = forms.ChoiceField(choices=ThemeStatus.choices, initial=ThemeStatus.CANDIDATE)
    on_board = forms.BooleanField(label="Show on the PPI board", required=False)
    parent = forms.TypedChoiceField(label="Sub-theme of", required=False, coerce=int, empty_value=None)
    codes = forms.TypedMultipleChoiceField(
        label="Codes this theme draws on", required=False, coerce=int, widget=forms.CheckboxSelectMultiple)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2**31 - 1)

    def __init__(self, *args: Any, themes: list[Theme], codes: list[tuple[int, str]], may_decide: bool,
                 editing: Theme | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parents = [(t.pk, t.name) for t in themes if editing is None or t.pk != editing.pk]
        self.fields["parent"].choices = [("", "— none (a main theme)"), *parents]  # type: ignore[attr-defined]
        self.fields["codes"].choices = codes  # type: ignore[attr-defined]
        if not may_decide:  # a coder's proposal is a candidate, off the board, until a lead decides
            del self.fields["status"]
            del self.fields["on_board"]


def theme_initial(theme: Theme) -> dict[str, Any]:
    return {"name": theme.name, "description": theme.description, "plain_description": theme.plain_description,
            "status": theme.status, "on_board": theme.on_board, "parent": theme.parent_id or "",
            "codes": list(theme.codes.values_list("pk", flat=True)), "version": theme.version}


class QuoteForm(forms.Form):
    text = forms.CharField(
        label="Quote", widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000,
        help_text="Shorten it at the start or end to leave out anything that could identify someone.")
    content_note = forms.CharField(
        label="Content note", required=False, max_length=service_limits.NOTE_MAX,
        help_text="For example “mentions self-harm”. The board then hides the quote until the reader chooses to show it.")


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Your comment", widget=forms.Textarea(attrs={"rows": 4}), max_length=service_limits.COMMENT_MAX,
        help_text="Plain text. You can use *italics*, **bold** and lists starting with “- ”.")
    kind = forms.ChoiceField(label="What kind of comment is this?", choices=CommentKind.choices,
                             initial=CommentKind.COMMENT, required=False)
    suggested_name = forms.CharField(
        label="Suggested name", required=False, max_length=service_limits.NAME_MAX,
        help_text="Only for a new name or a new theme.")
    quote = forms.TypedChoiceField(label="About a quote", required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, quotes: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["quote"].choices = [("", "The theme as a whole"), *quotes]  # type: ignore[attr-defined]
        if not quotes:
            del self.fields["quote"]


class ReplyForm(forms.Form):
    body = forms.CharField(label="Your reply", widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=service_limits.COMMENT_MAX)
    parent = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)


class CommentEditForm(forms.Form):
    body = forms.CharField(label="Your comment", widget=forms.Textarea(attrs={"rows": 5}),
                           max_length=service_limits.COMMENT_MAX)


class ReactionForm(forms.Form):
    value = forms.ChoiceField(label="Does this theme ring true to you?", choices=ReactionValue.choices,
                              widget=forms.RadioSelect)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", choices=[("accept", "Accept"), ("decline", "Decline")],
                                 widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Reason", required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=service_limits.COMMENT_MAX,
        help_text="Shown to the person who made the suggestion. Needed when you decline.")


class BoardSettingsForm(forms.Form):
    support_line = forms.CharField(
        label="Support line shown on the board", required=False, max_length=service_limits.SUPPORT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Who readers can contact if something on the board upsets them, for example a phone number "
                  "and hours.")


class CodeCommentForm(forms.Form):
    body = forms.CharField(
        label="Your comment", widget=forms.Textarea(attrs={"rows": 4}), max_length=service_limits.COMMENT_MAX,
        help_text="Seen by the analysis team only. Plain text; you can use *italics*, **bold** and lists "
                  "starting with “- ”.")


class DigestForm(forms.Form):
    every = forms.ChoiceField(label="E-mail me a summary of what is new", choices=DigestEvery.choices,
                              widget=forms.RadioSelect)
