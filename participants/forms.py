"""Forms for the participant and consent pages. They parse input; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import Membership, ParticipantGroup, Site, Study

from .models import AttributeDefinition, AttributeKind, ConsentForm, ConsentItem, WithdrawalScope
from .services.consent import STANDARD_ITEMS

ANSWER_CHOICES = [("yes", "Yes"), ("no", "No"), ("", "Not answered")]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ParticipantForm(forms.Form):
    pseudonym = forms.CharField(max_length=50, help_text="Letters, digits, '-', '_' or '.', e.g. SU01.")
    group = forms.ModelChoiceField(queryset=ParticipantGroup.objects.none(), empty_label="Choose a group")
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="No site")
    interview_date = forms.DateField(required=False, widget=DATE_WIDGET, label="Interview date")
    name = forms.CharField(max_length=200, required=False, label="Name (identifiable, encrypted)",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}),
                           help_text="Seen by study admins only. Leave empty to keep what is recorded.")
    contact = forms.CharField(max_length=1000, required=False, label="Contact details (identifiable, encrypted)",
                              widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
                              help_text="Seen by study admins only. Leave empty to keep what is recorded.")

    def __init__(self, *args: Any, study: Study, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = ParticipantGroup.objects.filter(study=study)  # type: ignore[attr-defined]
        self.fields["site"].queryset = Site.objects.filter(study=study)  # type: ignore[attr-defined]
        if not editing:
            self.fields["name"].help_text = "Seen by study admins only."
            self.fields["contact"].help_text = "Seen by study admins only."
        self.definitions = list(AttributeDefinition.objects.filter(study=study))
        for d in self.definitions:
            name = f"attr_{d.key}"
            if d.kind == AttributeKind.CHOICE:
                self.fields[name] = forms.ChoiceField(
                    label=d.label, required=False, choices=[("", "—"), *[(c, c) for c in d.choices]]
                )
            elif d.kind == AttributeKind.DATE:
                self.fields[name] = forms.DateField(label=d.label, required=False, widget=DATE_WIDGET)
            elif d.kind == AttributeKind.NUMBER:
                self.fields[name] = forms.DecimalField(label=d.label, required=False)
            else:
                self.fields[name] = forms.CharField(label=d.label, required=False, max_length=500)

    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for d in self.definitions:
            value = self.cleaned_data.get(f"attr_{d.key}")
            if value is None or value == "":
                continue
            out[d.key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return out


class FilterForm(forms.Form):
    search = forms.CharField(required=False, label="Pseudonym")
    group = forms.ModelChoiceField(queryset=ParticipantGroup.objects.none(), required=False, empty_label="Any group")
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="Any site")
    state = forms.ChoiceField(required=False, label="Consent state")

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .models import ConsentState

        self.fields["group"].queryset = ParticipantGroup.objects.filter(study=study)  # type: ignore[attr-defined]
        self.fields["site"].queryset = Site.objects.filter(study=study)  # type: ignore[attr-defined]
        self.fields["state"].choices = [("", "Any state"), *ConsentState.choices]  # type: ignore[attr-defined]


def _members(study: Study) -> list[tuple[str, str]]:
    ms = Membership.objects.filter(study=study).select_related("user").order_by("user__email")
    return [("", "—"), *[(str(m.user_id), m.user.display_name) for m in ms]]


class ConsentEventForm(forms.Form):
    date = forms.DateField(widget=DATE_WIDGET, label="Date of consent")
    method = forms.CharField(max_length=100, required=False, help_text="e.g. written, electronic, verbal (audio-recorded).")
    taken_by = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Consent taken by")
    note = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Do not write identifiable details here.")
    signed_form = forms.FileField(required=False, label="Signed form (PDF)",
                                  widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}))

    def __init__(self, *args: Any, study: Study, form: ConsentForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["taken_by"].choices = _members(study)  # type: ignore[attr-defined]
        self.consent_form = form
        self.items: list[ConsentItem] = list(form.items.all())
        for item in self.items:
            if item.mandatory:
                continue
            self.fields[f"item_{item.key}"] = forms.ChoiceField(
                label=item.label, choices=ANSWER_CHOICES, required=False, widget=forms.RadioSelect,
                initial="",
            )
        self.order_fields([f"item_{i.key}" for i in self.items if not i.mandatory])

    def answers(self) -> dict[str, Any]:
        return {i.key: self.cleaned_data.get(f"item_{i.key}") or None for i in self.items if not i.mandatory}


class WithdrawForm(forms.Form):
    scope = forms.ChoiceField(
        choices=WithdrawalScope.choices, widget=forms.RadioSelect, label="What happens to the data already collected",
    )
    date = forms.DateField(widget=DATE_WIDGET, label="Date of withdrawal")
    method = forms.CharField(max_length=100, required=False, help_text="e.g. e-mail, telephone, letter.")
    note = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Do not write identifiable details here.")
    confirm_delete = forms.BooleanField(
        required=False, label="I understand that deleting the data is final and cannot be undone.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == WithdrawalScope.DELETE_DATA and not data.get("confirm_delete"):
            self.add_error("confirm_delete", "Confirm that the deletion is final.")
        return data


class CorrectionForm(forms.Form):
    voids = forms.BooleanField(required=False, label="This event was entered in error: void it")
    date = forms.DateField(widget=DATE_WIDGET, required=False, label="Corrected date")
    method = forms.CharField(max_length=100, required=False)
    note = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Reason for the correction")

    def __init__(self, *args: Any, event: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: list[ConsentItem] = []
        if event.kind == "withdrawal":
            self.fields["scope"] = forms.ChoiceField(choices=WithdrawalScope.choices, widget=forms.RadioSelect,
                                                     label="Corrected scope", initial=event.withdrawal_scope)
            self.fields["confirm_delete"] = forms.BooleanField(
                required=False, label="I understand that changing the scope to delete is final.")
        elif event.form is not None:
            self.items = list(event.form.items.all())
            for item in self.items:
                if item.mandatory:
                    continue
                current = event.answers.get(item.key)
                self.fields[f"item_{item.key}"] = forms.ChoiceField(
                    label=item.label, choices=ANSWER_CHOICES, required=False, widget=forms.RadioSelect,
                    initial={True: "yes", False: "no"}.get(current, ""),
                )
        self.fields["date"].initial = event.date
        self.fields["method"].initial = event.method

    def answers(self) -> dict[str, Any]:
        return {i.key: self.cleaned_data.get(f"item_{i.key}") or None for i in self.items if not i.mandatory}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == WithdrawalScope.DELETE_DATA and not data.get("voids") and not data.get("confirm_delete"):
            self.add_error("confirm_delete", "Confirm that the deletion is final.")
        return data


class ConsentFormCreateForm(forms.Form):
    version = forms.CharField(max_length=20, help_text="e.g. 2.0. A version cannot be changed once created.")
    title = forms.CharField(max_length=200, required=False)
    effective_from = forms.DateField(widget=DATE_WIDGET, label="In use from", initial=timezone.localdate)
    reconsent_required = forms.BooleanField(
        required=False, label="Participants who consented on an earlier version must re-consent",
    )
    extra_items = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Study-defined items",
        help_text="One statement per line. Start with a key and a colon to choose the key, e.g. "
                  "“photo_elicitation: I agree to share photographs.”",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label, mandatory in STANDARD_ITEMS:
            self.fields[f"inc_{key}"] = forms.BooleanField(required=False, initial=True, label=label)
            self.fields[f"man_{key}"] = forms.BooleanField(
                required=False, initial=mandatory, label=f"Condition of taking part: {label}"
            )
        self.fields["inc_take_part"].disabled = True
        self.fields["man_take_part"].disabled = True

    def standard_rows(self) -> list[tuple[str, Any, Any]]:
        return [(key, self[f"inc_{key}"], self[f"man_{key}"]) for key, _, _ in STANDARD_ITEMS]

    def items(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for key, label, _ in STANDARD_ITEMS:
            if key == "take_part" or self.cleaned_data.get(f"inc_{key}"):
                out.append({"key": key, "label": label,
                            "mandatory": key == "take_part" or bool(self.cleaned_data.get(f"man_{key}"))})
        for line in (self.cleaned_data.get("extra_items") or "").splitlines():
            line = line.strip()
            if not line:
                continue
            key, sep, label = line.partition(":")
            if sep and key.strip() and " " not in key.strip():
                out.append({"key": key.strip(), "label": label.strip()})
            else:
                out.append({"key": "", "label": line})
        return out


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


class ImportOptionsForm(forms.Form):
    batch = forms.IntegerField(widget=forms.HiddenInput)
    create_missing = forms.BooleanField(required=False)
    import_valid_rows = forms.BooleanField(required=False, label="Import the valid rows and leave out the rows with errors")
    confirm_encoding = forms.BooleanField(required=False)
    confirm_deletions = forms.BooleanField(required=False)


class AttributeForm(forms.Form):
    label = forms.CharField(max_length=100)
    key = forms.CharField(max_length=50, required=False, help_text="Column name in CSV files; made from the label if empty.")
    kind = forms.ChoiceField(choices=AttributeKind.choices, label="Type")
    choices = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="For a choice attribute: one choice per line.")

    def choice_list(self) -> list[str]:
        return [c.strip() for c in (self.cleaned_data.get("choices") or "").splitlines() if c.strip()]
