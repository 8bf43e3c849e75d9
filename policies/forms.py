"""Forms of the organization and policy pages. Choices, patterns and lengths come from botocore's
service model (`selectors.shape_limits` / `selectors.enum`), so the form refuses what AWS would
refuse before any call is made, and a newer model needs no code change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from orgportal.forms import form_field

from . import selectors


def _model_string_field(shape: str, *, label: str, required: bool = True, widget: Any = None) -> forms.CharField:
    limits = selectors.shape_limits(shape)
    field = forms.CharField(
        label=label,
        required=required,
        min_length=limits.get("min") if required else None,
        max_length=limits.get("max"),
        strip=False,
        widget=widget,
    )
    pattern = limits.get("pattern")
    if pattern:
        compiled = re.compile(pattern)

        def check(value: str) -> None:
            if value and not compiled.fullmatch(value):
                raise ValidationError(f"{label} contains characters AWS does not accept.")

        field.validators.append(check)
    return field


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(v, selectors.policy_type_info(v).label) for v in values]


class CreateOrganizationForm(forms.Form):
    feature_set = forms.ChoiceField(label="Features", widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            "ALL": "All features (needed for billing transfers and policies)",
            "CONSOLIDATED_BILLING": "Consolidated billing only",
        }
        feature_set = form_field(self, "feature_set", forms.ChoiceField)
        feature_set.choices = [(v, labels.get(v, v)) for v in selectors.feature_sets()]
        feature_set.initial = "ALL" if "ALL" in selectors.feature_sets() else None


class PolicyTypeForm(forms.Form):
    """Enable or disable one policy type on one root; `confirm` is the user's explicit yes."""

    root_id = forms.ChoiceField()
    policy_type = forms.ChoiceField()
    confirm = forms.BooleanField(required=True, label="I understand what this policy type governs")

    def __init__(self, *args: Any, roots: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "root_id", forms.ChoiceField).choices = [(r, r) for r in roots]
        form_field(self, "policy_type", forms.ChoiceField).choices = _choices(selectors.policy_types())


class PolicyForm(forms.Form):
    """CreatePolicy / UpdatePolicy: name, description, type (create only) and JSON content."""

    name = _model_string_field("PolicyName", label="Name")
    description = _model_string_field("PolicyDescription", label="Description", required=False)
    type = forms.ChoiceField(label="Type")
    content = _model_string_field(
        "PolicyContent", label="Content (JSON)", widget=forms.Textarea(attrs={"rows": 16, "class": "mono"})
    )

    def __init__(self, *args: Any, update: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "type", forms.ChoiceField).choices = _choices(selectors.policy_types())
        if update:
            # UpdatePolicy cannot change the type.
            del self.fields["type"]

    def clean_content(self) -> str:
        content: str = self.cleaned_data["content"]
        try:
            parsed = json.loads(content)
        except ValueError as error:
            raise ValidationError(f"The content is not valid JSON: {error}.") from None
        if not isinstance(parsed, dict):
            raise ValidationError("The content must be a JSON object ({ ... }).")
        return content


class AttachPolicyForm(forms.Form):
    target_id = forms.ChoiceField(label="Attach to")

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "target_id", forms.ChoiceField).choices = targets


class EffectivePolicyForm(forms.Form):
    """Which account and type to show an effective policy for (a GET form)."""

    account_id = _model_string_field("AccountId", label="Account")
    policy_type = forms.ChoiceField(label="Policy type")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "policy_type", forms.ChoiceField).choices = _choices(selectors.effective_policy_types())
