from __future__ import annotations

from typing import Any

from django import forms

from analysis.coding.colours import PALETTE, PALETTE_NAMES
from analysis.coding.models import Code
from analysis.coding.selectors.codebook import CodeNode, code_tree_flat


def _tree_choices(roots: list[CodeNode], *, exclude: set[int], top_label: str | None) -> list[tuple[str, str]]:
    choices: list[tuple[str, str]] = [("", top_label)] if top_label else []
    for node in code_tree_flat(roots):
        if node.code.pk in exclude:
            continue
        choices.append((str(node.code.pk), "\u2003" * node.depth + node.code.name))
    return choices


def colour_choices(current: str | None = None) -> list[tuple[str, str]]:
    choices = [(c, PALETTE_NAMES[c]) for c in PALETTE]
    if current and current not in PALETTE:
        choices.insert(0, (current, f"Current colour ({current})"))
    return choices


class CodeForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        label="Definition", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the code means, in a sentence or two.",
    )
    inclusion_criteria = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="When to apply it."
    )
    exclusion_criteria = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="When not to apply it."
    )
    example = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    colour = forms.ChoiceField(widget=forms.RadioSelect, help_text="Shown beside the code's name.")
    is_codable = forms.BooleanField(
        required=False, initial=True, label="Text can be coded with this code",
        help_text="Untick for a grouping code that only holds sub-codes.",
    )

    def __init__(self, *args: Any, current_colour: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["colour"].choices = colour_choices(current_colour)  # type: ignore[attr-defined]


class CodeCreateForm(CodeForm):
    parent = forms.ChoiceField(required=False, label="Put it under")
    field_order = ["name", "parent"]

    def __init__(self, *args: Any, roots: list[CodeNode], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _tree_choices(roots, exclude=set(), top_label="(top level)")  # type: ignore[attr-defined]


class CodeEditForm(CodeForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class CodeMoveForm(forms.Form):
    parent = forms.ChoiceField(required=False, label="Move under")

    def __init__(self, *args: Any, roots: list[CodeNode], exclude: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _tree_choices(roots, exclude=exclude, top_label="(top level)")  # type: ignore[attr-defined]


class CodeMergeForm(forms.Form):
    target = forms.ChoiceField(label="Merge into")
    confirm = forms.BooleanField(label="I understand this code will be deleted once merged")

    def __init__(self, *args: Any, roots: list[CodeNode], exclude: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "Choose a code"), *_tree_choices(roots, exclude=exclude, top_label=None)]  # type: ignore[attr-defined]


class CodeDeleteForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, delete it")


class CodebookImportForm(forms.Form):
    file = forms.FileField(
        label="Codebook file",
        help_text="A REFI-QDA codebook (.qdc, from NVivo, ATLAS.ti, MAXQDA, QualCoder…) or a CSV file as Chorus exports it.",
    )


def code_initial(code: Code) -> dict[str, Any]:
    return {
        "name": code.name, "description": code.description, "inclusion_criteria": code.inclusion_criteria,
        "exclusion_criteria": code.exclusion_criteria, "example": code.example, "colour": code.colour,
        "is_codable": code.is_codable, "version": code.version,
    }
