"""The forms every action shares: the two-step base (review, then confirm, with a one-time
token), the invitation base, and fields that take their limits from the service model.

Lengths, patterns and enums come from botocore's service model through the gateway
(`orgportal.aws.shape_constraints` / `enum_values`), so a form refuses exactly what AWS would
refuse — before any call — and a newer model needs no code change. AWS writes some patterns with
Unicode property classes (``\\p{L}``, ``\\p{Z}``, ``\\p{N}``) that Python's `re` lacks; they are
translated once into explicit code-point ranges.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from orgportal import aws

# The documentation says Target.Type ACCOUNT and EMAIL are the only types supported for the
# invitations; the model's enum (HandshakePartyType) also lists ORGANIZATION.
SUPPORTED_TARGET_TYPES = ("ACCOUNT", "EMAIL")


# --- patterns from the model ------------------------------------------------------------------


@cache
def _property_ranges(category: str) -> str:
    """A character-class body (for use inside [...]) matching Unicode general category `category`
    (one letter, e.g. "L"), built once per process."""
    parts: list[str] = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(category)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            end = code - 1
            parts.append(re.escape(chr(start)) if start == end else f"{re.escape(chr(start))}-{re.escape(chr(end))}")
            start = None
    return "".join(parts)


_PROPERTY = re.compile(r"\\p\{([A-Z])\}")


def python_pattern(pattern: str) -> str:
    """AWS's pattern as a Python regex: \\p{X} becomes explicit ranges, inside or outside a class."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        match = _PROPERTY.match(pattern, i)
        if match:
            ranges = _property_ranges(match.group(1))
            out.append(ranges if in_class else f"[{ranges}]")
            i = match.end()
            continue
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@cache
def compiled_pattern(shape_name: str) -> re.Pattern[str] | None:
    pattern = aws.shape_constraints(shape_name)["pattern"]
    return re.compile(python_pattern(pattern)) if pattern else None


def shape_validator(shape_name: str, label: str) -> Callable[[str], None]:
    """A validator enforcing the model's min, max and pattern of a string shape."""

    def validate(value: str) -> None:
        limits = aws.shape_constraints(shape_name)
        if limits["min"] is not None and len(value) < limits["min"]:
            raise ValidationError(f"{label} must be at least {limits['min']} characters long.")
        if limits["max"] is not None and len(value) > limits["max"]:
            raise ValidationError(f"{label} can be at most {limits['max']} characters long.")
        compiled = compiled_pattern(shape_name)
        if compiled is not None and value and not compiled.search(value):
            raise ValidationError(f"{label} contains characters AWS does not accept.")

    return validate


def model_char_field(
    shape_name: str, *, label: str, required: bool = True, widget: Any = None, help_text: str = ""
) -> forms.CharField:
    """A CharField whose limits are the model's (max_length also sizes the input box)."""
    limits = aws.shape_constraints(shape_name)
    return forms.CharField(
        label=label,
        required=required,
        max_length=limits["max"],
        strip=True,
        widget=widget,
        help_text=help_text,
        validators=[shape_validator(shape_name, label)],
    )


def target_type_of(value: str) -> str:
    """ACCOUNT for a 12-digit account id, EMAIL for an address (each by the model's own pattern);
    raises ValidationError otherwise."""
    account = compiled_pattern("AccountId")
    email = compiled_pattern("Email")
    types = [t for t in aws.enum_values("HandshakePartyType") if t in SUPPORTED_TARGET_TYPES]
    if "ACCOUNT" in types and account is not None and account.search(value):
        return "ACCOUNT"
    if "EMAIL" in types and email is not None and email.search(value):
        limits = aws.shape_constraints("Email")
        if (limits["min"] or 0) <= len(value) <= (limits["max"] or len(value)):
            return "EMAIL"
    raise ValidationError("Enter a 12-digit AWS account id or the email address of the account's root user.")


def parse_tags(text: str) -> list[dict[str, str]]:
    """Tags typed one per line as key=value, each checked against the model's Tag shapes."""
    tags: list[dict[str, str]] = []
    seen: set[str] = set()
    key_check = shape_validator("TagKey", "A tag key")
    value_check = shape_validator("TagValue", "A tag value")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise ValidationError(f"Line {number}: write each tag as key=value.")
        key, value = (part.strip() for part in line.split("=", 1))
        for check, part in ((key_check, key), (value_check, value)):
            try:
                check(part)
            except ValidationError as error:
                raise ValidationError(f"Line {number}: {error.messages[0]}") from None
        if key in seen:
            raise ValidationError(f"Line {number}: the tag key {key!r} appears twice.")
        seen.add(key)
        tags.append({"Key": key, "Value": value})
    return tags


class ActionForm(forms.Form):
    """Base of every action form: a two-step flow (review, then confirm) and a one-time token.

    `confirmed` is set by the confirmation page's button; without it a valid form shows the
    review of exactly what will be sent. `submission` makes the same form posted twice reach
    AWS once (see orgportal.writepath).
    """

    # Fields the user fills on the review step itself (shown there, not on the edit step).
    confirm_fields: tuple[str, ...] = ()

    submission = forms.UUIDField(widget=forms.HiddenInput, required=False)
    confirmed = forms.BooleanField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission", uuid.uuid4())

    @property
    def submission_token(self) -> str:
        value = self.cleaned_data.get("submission")
        return str(value) if value else ""

    @property
    def is_confirmed(self) -> bool:
        return bool(self.cleaned_data.get("confirmed"))


class TargetField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        limits = aws.shape_constraints("HandshakePartyId")
        kwargs.setdefault("max_length", limits["max"])
        kwargs.setdefault("validators", [shape_validator("HandshakePartyId", "The invited account")])
        super().__init__(**kwargs)


class ConfirmForm(ActionForm):
    """An action with nothing to enter, only a confirmation (cancel an invitation)."""


class InviteForm(ActionForm):
    """Base of the invitation forms: each has a `target` (an account id or email; its type is
    derived from it), optional `notes` and `tags` (one key=value per line), and says exactly what
    its AWS call will receive. `invitee` names who reads the notes."""

    invitee = "invited party"

    notes = model_char_field("HandshakeNotes", label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(
        label="Tags (one key=value per line)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["notes"].label = f"Notes for the {self.invitee}"
        # What the invitation is about first; the optional notes and tags last.
        self.order_fields([name for name in self.fields if name not in ("notes", "tags")] + ["notes", "tags"])

    def clean_target(self) -> str:
        value: str = self.cleaned_data["target"]
        self.cleaned_data["target_type"] = target_type_of(value)
        return value

    def clean_tags(self) -> list[dict[str, str]]:
        return parse_tags(self.cleaned_data.get("tags") or "")

    def target_param(self) -> dict[str, str]:
        return {"Id": self.cleaned_data["target"], "Type": self.cleaned_data["target_type"]}

    def notes_and_tags(self) -> dict[str, Any]:
        """The optional Notes and Tags parameters, when given."""
        params: dict[str, Any] = {}
        if self.cleaned_data.get("notes"):
            params["Notes"] = self.cleaned_data["notes"]
        if self.cleaned_data.get("tags"):
            params["Tags"] = self.cleaned_data["tags"]
        return params

    def aws_params(self) -> dict[str, Any]:
        """Exactly what the invitation call will receive (for the review page)."""
        raise NotImplementedError
