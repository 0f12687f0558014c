from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from .models import ParticipantGroup, Role, Site, Study, User
from .policy import MAX_ID


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()


class StudyForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class StudyCreateForm(StudyForm):
    sites = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="One site per line. You can add more later.",
    )

    def site_names(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("sites", "").splitlines() if line.strip()]


class SiteForm(forms.Form):
    name = forms.CharField(max_length=200, label="Site name")


class _IdsChoiceField(forms.ModelMultipleChoiceField):
    """Refuses ids beyond 64 bits as invalid choices; SQLite would raise OverflowError on them."""

    def _check_values(self, value: Any) -> Any:
        for pk in value:
            if str(pk).isascii() and str(pk).isdigit() and int(pk) > MAX_ID:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": pk}
                )
        return super()._check_values(value)  # type: ignore[misc]


class _ScopeFields(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    scope_sites = _IdsChoiceField(
        queryset=Site.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Limit to sites", help_text="Leave empty for all sites.",
    )
    scope_groups = _IdsChoiceField(
        queryset=ParticipantGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Limit to participant groups", help_text="Leave empty for all groups.",
    )

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope_sites"].queryset = Site.objects.filter(study=study)  # type: ignore[attr-defined]
        self.fields["scope_groups"].queryset = ParticipantGroup.objects.filter(study=study)  # type: ignore[attr-defined]


class MembershipAddForm(_ScopeFields):
    email = forms.EmailField(label="E-mail address")
    full_name = forms.CharField(max_length=150, required=False, label="Name (for a new account)")
    field_order = ["email", "full_name", "role", "scope_sites", "scope_groups"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No preselected role: the first choice is Admin, and a hurried click must not grant it.
        self.fields["role"].choices = [("", "Choose a role"), *Role.choices]  # type: ignore[attr-defined]


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form skips accounts without a usable password; here those are invited people who
    have not chosen one yet, and this is how they renew an invitation whose link expired."""

    def get_users(self, email: str) -> Iterator[Any]:
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)


class MembershipEditForm(_ScopeFields):
    pass


class AuditFilterForm(forms.Form):
    actor = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="User")
    action = forms.ChoiceField(required=False, label="Action")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, actors: list[tuple[int, str]], actions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *actors]  # type: ignore[attr-defined]
        families = sorted({a.split(".")[0] for a in actions})
        choices = [("", "Any action")]
        for fam in families:
            choices.append((fam, f"{fam}.* (all)"))
            choices.extend((a, a) for a in actions if a.startswith(f"{fam}."))
        self.fields["action"].choices = choices  # type: ignore[attr-defined]
