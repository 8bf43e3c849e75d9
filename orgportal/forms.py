"""Forms of the connection pages. Secrets are write-only: never rendered back, kept when left blank.

Limits of the role ARN come from STS's own service model; key ids and secrets are checked
against the shapes IAM issues them in before anything is stored or sent.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

import botocore.session
from django import forms
from django.core.exceptions import ValidationError

from .models import STORABLE_SECRET, AwsConnection, AwsCredentials, CredentialMode

# Real AWS: a long-term access key id and its 40-character secret, as IAM issues them.
AWS_ACCESS_KEY_ID = re.compile(r"AKIA[A-Z0-9]{16}")
AWS_SECRET_ACCESS_KEY = re.compile(r"[A-Za-z0-9/+=]{40}")
# An emulator at a custom endpoint takes its own keys: orgsim's key id is the 12-digit account.
EMULATOR_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{12,128}")
# IAM's role ARN: partition, a 12-digit account, then the role's path and name (ASCII only).
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,576}", re.ASCII)

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
    """How to obtain credentials: one of the four modes and the fields that mode needs.

    The server's own credentials (default chain, named profile) are offered only when
    `allow_ambient` (a superuser on a deployment that enables them) and refused if posted
    otherwise. Role mode takes no external id: the connection's generated one is used. Keys are
    checked against AWS's shapes for AWS, and bounded printable ASCII for an emulator's endpoint.
    Call `ConnectionForms.is_valid()` rather than this form's own: it needs the endpoint.
    """

    mode = forms.ChoiceField(choices=CredentialMode.choices, initial=CredentialMode.KEYS)
    profile_name = forms.CharField(required=False, max_length=128, label="Profile name")
    role_arn = forms.CharField(
        required=False,
        max_length=2048,
        label="Role ARN",
        help_text="The role's trust policy must require this connection's external id (shown on its page).",
    )
    access_key_id = forms.CharField(required=False, max_length=128, label="Access key id")
    secret_access_key = forms.CharField(
        required=False,
        label="Secret access key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: stored encrypted, never shown again.",
    )

    # The fields each mode reads; a field typed for another mode is refused, never dropped silently.
    MODE_FIELDS = {
        CredentialMode.DEFAULT_CHAIN: (),
        CredentialMode.PROFILE: ("profile_name",),
        CredentialMode.ASSUME_ROLE: ("role_arn",),
        CredentialMode.KEYS: ("access_key_id", "secret_access_key"),
    }

    def __init__(
        self, *args: Any, instance: AwsCredentials | None = None, allow_ambient: bool = False, **kwargs: Any
    ) -> None:
        self.instance = instance
        self.allow_ambient = allow_ambient
        # Set by ConnectionForms before validation: where the credentials will be sent.
        self.endpoint_url = ""
        self.endpoint_changed = False
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "mode": instance.mode,
                "profile_name": instance.profile_name,
                "role_arn": instance.role_arn,
                "access_key_id": instance.access_key_id,
            }
        super().__init__(*args, **kwargs)
        if instance is not None and instance.mode == CredentialMode.KEYS and instance.secret_access_key_encrypted:
            self.fields[
                "secret_access_key"
            ].help_text = "Write-only: stored encrypted, never shown again. Leave blank to keep the stored one."
        if not allow_ambient:
            # Shown without them; the field still knows them, so clean() can say why it refuses.
            form_field(self, "mode", forms.ChoiceField).widget.choices = [
                (value, label) for value, label in CredentialMode.choices if not CredentialMode(value).is_ambient
            ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode")
        if mode and CredentialMode(mode).is_ambient and not self.allow_ambient:
            self.add_error(
                "mode",
                "The portal server's own credentials (default chain, named profile) are for superusers, "
                "and only where the deployment enables them. Use access keys or a role.",
            )
        if mode == CredentialMode.PROFILE and not data.get("profile_name"):
            self.add_error("profile_name", "A named profile needs its name.")
        if mode == CredentialMode.ASSUME_ROLE:
            role_arn = data.get("role_arn", "")
            if not role_arn:
                self.add_error("role_arn", "Assuming a role needs the role's ARN.")
            else:
                try:
                    _check_model(role_arn, "RoleArn", "The role ARN")
                    if not ROLE_ARN.fullmatch(role_arn):
                        raise ValidationError("A role ARN looks like arn:aws:iam::123456789012:role/Name.")
                except ValidationError as exc:
                    self.add_error("role_arn", exc)
        if mode == CredentialMode.KEYS:
            self._clean_keys(data)
        if mode:
            self._refuse_unused(CredentialMode(mode), data)
        return data

    def _refuse_unused(self, mode: CredentialMode, data: dict[str, Any]) -> None:
        """A value typed into a field the chosen mode does not read is an error, not dropped: the
        user meant something (typed keys with the mode left at "default chain" would otherwise
        save a connection without them). A value shown back from the stored credentials (the key
        id after switching a keys connection to a role) is not typed, so it passes."""
        used = self.MODE_FIELDS[mode]
        stored = self.instance
        for name in ("profile_name", "role_arn", "access_key_id", "secret_access_key"):
            value = data.get(name) or ""
            if not value or name in used or name in self.errors:
                continue
            if name != "secret_access_key" and stored is not None and getattr(stored, name) == value:
                continue
            wanted = next(m for m, fields in self.MODE_FIELDS.items() if name in fields)
            self.add_error(
                name,
                f"{self.fields[name].label} is filled in but “{mode.label}” does not use it: "
                f"choose “{wanted.label}” or clear the field.",
            )

    def _clean_keys(self, data: dict[str, Any]) -> None:
        key_id, secret = data.get("access_key_id", ""), data.get("secret_access_key", "")
        emulator = bool(self.endpoint_url)
        if not key_id:
            self.add_error("access_key_id", "Access keys need the access key id.")
        elif emulator and not EMULATOR_ACCESS_KEY_ID.fullmatch(key_id):
            self.add_error("access_key_id", "An access key id is 12 or more capital letters and digits.")
        elif not emulator and not AWS_ACCESS_KEY_ID.fullmatch(key_id):
            self.add_error("access_key_id", "An AWS access key id is AKIA followed by 16 capital letters and digits.")
        if secret and emulator and not STORABLE_SECRET.fullmatch(secret):
            self.add_error(
                "secret_access_key", "A secret access key is 1 to 128 printable ASCII characters, without spaces."
            )
        elif secret and not emulator and not AWS_SECRET_ACCESS_KEY.fullmatch(secret):
            self.add_error(
                "secret_access_key", "An AWS secret access key is 40 characters: letters, digits, / + and =."
            )
        stored = self.instance
        stored_key_id = (
            stored.access_key_id
            if stored is not None and stored.mode == CredentialMode.KEYS and stored.secret_access_key_encrypted
            else None
        )
        has_stored = stored_key_id is not None
        # Blank keeps the stored secret only for the same key id at the same endpoint.
        if secret or (stored_key_id == key_id and not self.endpoint_changed):
            return
        if has_stored and self.endpoint_changed:
            self.add_error(
                "secret_access_key",
                "The endpoint changed: enter the secret access key again (a stored secret is never sent to a new endpoint).",
            )
        else:
            self.add_error("secret_access_key", "Enter the secret access key (it is stored encrypted).")

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
        # The secret: a new value replaces; blank keeps; a mode that does not use one clears it.
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


class ConnectionForms:
    """The three forms of the connection page, validated together.

    The credentials forms need to know where their credentials go: a key's shape depends on
    whether the endpoint is AWS or an emulator, and a new endpoint must not inherit a stored
    secret (it would sign requests to a host the editor chose).
    """

    def __init__(self, data: Any, *, connection: AwsConnection | None, allow_ambient: bool) -> None:
        # Read now: validating the ModelForm writes the posted endpoint onto the instance.
        self.stored_endpoint = connection.endpoint_url if connection else None
        self.form = ConnectionForm(data, instance=connection or AwsConnection())
        self.read = CredentialsForm(
            data,
            prefix="read",
            instance=connection.read_credentials if connection else None,
            allow_ambient=allow_ambient,
        )
        self.action = CredentialsForm(
            data,
            prefix="action",
            instance=connection.action_credentials if connection and connection.action_credentials_id else None,
            allow_ambient=allow_ambient,
        )

    def is_valid(self) -> bool:
        connection_ok = self.form.is_valid()
        if connection_ok:
            endpoint = self.form.cleaned_data["endpoint_url"] or ""
        else:
            endpoint = str(self.form.data.get("endpoint_url", "") or "").strip()
        changed = self.stored_endpoint is not None and endpoint != self.stored_endpoint
        for credentials_form in (self.read, self.action):
            credentials_form.endpoint_url = endpoint
            credentials_form.endpoint_changed = changed
        read_ok = self.read.is_valid()
        if not (connection_ok and self.form.cleaned_data["use_action_credentials"]):
            # Unused: shown again as it was, not with errors about fields nobody means to fill.
            self.action = CredentialsForm(
                prefix="action", instance=self.action.instance, allow_ambient=self.action.allow_ambient
            )
            return connection_ok and read_ok
        return connection_ok and read_ok and self.action.is_valid()
