"""Forms of the connection pages. Secrets are write-only: never rendered back, kept when left blank.

Limits and patterns of the role ARN and external id come from STS's own service model.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

import botocore.session
from django import forms
from django.core.exceptions import ValidationError

from .models import AwsConnection, AwsCredentials, CredentialMode

ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{12,128}$")

FieldT = TypeVar("FieldT", bound=forms.Field)


def form_field(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """`form.fields[name]` as the field class it was declared with (to set choices or a queryset)."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is a {type(field).__name__}, not a {kind.__name__}")
    return field


@cache
def _sts_constraints(member: str) -> dict[str, Any]:
    shape = botocore.session.get_session().get_service_model("sts").operation_model("AssumeRole").input_shape
    assert shape is not None
    return dict(shape.members[member].metadata)


def _check_model(value: str, member: str, label: str) -> None:
    meta = _sts_constraints(member)
    if len(value) < meta.get("min", 0) or len(value) > meta.get("max", 10**6):
        raise ValidationError(f"{label} must be {meta.get('min', 0)} to {meta.get('max')} characters.")
    pattern = meta.get("pattern")
    # STS writes some patterns with \uXXXX escapes Python's re does not accept in brackets
    # beyond the BMP; only ASCII-expressible patterns are enforced here.
    if pattern and "\\u" not in pattern and not re.fullmatch(pattern, value):
        raise ValidationError(f"{label} contains characters AWS does not allow.")


class CredentialsForm(forms.Form):
    """How to obtain credentials: one of the four modes and the fields that mode needs."""

    mode = forms.ChoiceField(choices=CredentialMode.choices, initial=CredentialMode.DEFAULT_CHAIN)
    profile_name = forms.CharField(required=False, max_length=128, label="Profile name")
    role_arn = forms.CharField(required=False, max_length=2048, label="Role ARN")
    external_id = forms.CharField(
        required=False,
        label="External id",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave blank to keep the stored one.",
    )
    access_key_id = forms.CharField(required=False, max_length=128, label="Access key id")
    secret_access_key = forms.CharField(
        required=False,
        label="Secret access key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave blank to keep the stored one.",
    )

    def __init__(self, *args: Any, instance: AwsCredentials | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "mode": instance.mode,
                "profile_name": instance.profile_name,
                "role_arn": instance.role_arn,
                "access_key_id": instance.access_key_id,
            }
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode")
        stored = self.instance
        if mode == CredentialMode.PROFILE and not data.get("profile_name"):
            self.add_error("profile_name", "A named profile needs its name.")
        if mode == CredentialMode.ASSUME_ROLE:
            role_arn = data.get("role_arn", "")
            if not role_arn:
                self.add_error("role_arn", "Assuming a role needs the role's ARN.")
            else:
                try:
                    _check_model(role_arn, "RoleArn", "The role ARN")
                    if not role_arn.startswith("arn:") or ":role/" not in role_arn:
                        raise ValidationError("A role ARN looks like arn:aws:iam::123456789012:role/Name.")
                except ValidationError as exc:
                    self.add_error("role_arn", exc)
            external_id = data.get("external_id", "")
            if external_id:
                try:
                    _check_model(external_id, "ExternalId", "The external id")
                except ValidationError as exc:
                    self.add_error("external_id", exc)
        if mode == CredentialMode.KEYS:
            key_id = data.get("access_key_id", "")
            if not key_id:
                self.add_error("access_key_id", "Access keys need the access key id.")
            elif not ACCESS_KEY_ID.match(key_id):
                self.add_error("access_key_id", "An access key id is 12 or more capital letters and digits.")
            keeps_secret = (
                stored is not None
                and stored.mode == CredentialMode.KEYS
                and stored.secret_access_key_encrypted
                and stored.access_key_id == key_id
            )
            if not data.get("secret_access_key") and not keeps_secret:
                self.add_error("secret_access_key", "Enter the secret access key (it is stored encrypted).")
        return data

    def apply(self, credentials: AwsCredentials) -> list[str]:
        """Copy the cleaned data onto `credentials` (unsaved); the names of the fields that changed."""
        data = self.cleaned_data
        mode = data["mode"]
        wanted = {
            "mode": mode,
            "profile_name": data["profile_name"] if mode == CredentialMode.PROFILE else "",
            "role_arn": data["role_arn"] if mode == CredentialMode.ASSUME_ROLE else "",
            "access_key_id": data["access_key_id"] if mode == CredentialMode.KEYS else "",
        }
        changed = [name for name, value in wanted.items() if getattr(credentials, name) != value]
        for name, value in wanted.items():
            setattr(credentials, name, value)
        # Secrets: a new value replaces; blank keeps; a mode that does not use one clears it.
        if mode != CredentialMode.ASSUME_ROLE:
            if credentials.external_id_encrypted:
                credentials.external_id_encrypted = ""
                changed.append("external_id")
        elif data.get("external_id"):
            credentials.external_id = data["external_id"]
            changed.append("external_id")
        if mode != CredentialMode.KEYS:
            if credentials.secret_access_key_encrypted:
                credentials.secret_access_key_encrypted = ""
                changed.append("secret_access_key")
        elif data.get("secret_access_key"):
            credentials.secret_access_key = data["secret_access_key"]
            changed.append("secret_access_key")
        return changed


class ConnectionForm(forms.ModelForm):
    endpoint_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Endpoint URL",
        help_text="Leave empty for AWS; set for orgsim (e.g. http://127.0.0.1:4566).",
    )
    use_action_credentials = forms.BooleanField(
        required=False,
        label="Use separate credentials for actions",
        help_text="Least privilege: the read credentials then need only List* and Describe*.",
    )

    class Meta:
        model = AwsConnection
        fields = ["name", "endpoint_url", "sync_enabled"]
        labels = {"endpoint_url": "Endpoint URL", "sync_enabled": "Sync automatically"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "use_action_credentials" not in self.initial:
            self.initial["use_action_credentials"] = bool(self.instance.action_credentials_id)
