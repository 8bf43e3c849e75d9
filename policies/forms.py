"""Forms of the organization and policy pages. Choices, patterns and lengths come from botocore's
service model (`orgportal.action_forms.model_char_field`, `selectors.enum`), so the form refuses
what AWS would refuse before any call is made, and a newer model needs no code change.

Every action form is an `ActionForm`: the one action-view flow shows exactly what will be sent
(the review) before the user confirms.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from orgportal.action_forms import ActionForm, model_char_field
from orgportal.forms import form_field

from . import selectors


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(v, selectors.policy_type_info(v).label) for v in values]


class CreateOrganizationForm(ActionForm):
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


class PolicyTypeForm(ActionForm):
    """Enable or disable one policy type on one root; `confirm` is the user's explicit yes, given
    on the review beside what the type governs."""

    confirm_fields = ("confirm",)

    root_id = forms.ChoiceField(label="Root")
    policy_type = forms.ChoiceField(label="Policy type")
    confirm = forms.BooleanField(required=True, label="I understand what this policy type governs")

    def __init__(self, *args: Any, roots: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "root_id", forms.ChoiceField).choices = [(r, r) for r in roots]
        form_field(self, "policy_type", forms.ChoiceField).choices = _choices(selectors.policy_types())


class PolicyActionForm(ActionForm):
    """An action on one policy of the organization, named by its id (a hidden field)."""

    policy_id = forms.CharField(widget=forms.HiddenInput)


class PolicyForm(PolicyActionForm):
    """CreatePolicy / UpdatePolicy: name, description, type (create only) and JSON content."""

    name = model_char_field("PolicyName", label="Name")
    description = model_char_field("PolicyDescription", label="Description", required=False)
    type = forms.ChoiceField(label="Type")
    content = model_char_field(
        "PolicyContent", label="Content (JSON)", widget=forms.Textarea(attrs={"rows": 16, "class": "mono"})
    )

    def __init__(self, *args: Any, update: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "type", forms.ChoiceField).choices = _choices(selectors.policy_types())
        # UpdatePolicy cannot change the type; CreatePolicy has no policy yet.
        del self.fields["type" if update else "policy_id"]

    def service_fields(self) -> dict[str, str]:
        """The service's keyword arguments: name, description, content (and the type, creating)."""
        data = self.cleaned_data
        fields = {"name": data["name"], "description": data["description"], "content": data["content"]}
        if "type" in self.fields:
            fields["policy_type"] = data["type"]
        return fields

    def aws_params(self, policy: Any) -> dict[str, str]:
        """Exactly what CreatePolicy (no `policy`) or UpdatePolicy of `policy` will receive."""
        data = self.cleaned_data
        params = {"Name": data["name"], "Description": data["description"], "Content": data["content"]}
        return {"PolicyId": policy.policy_id, **params} if policy else {**params, "Type": data["type"]}

    def clean_content(self) -> str:
        content: str = self.cleaned_data["content"]
        try:
            parsed = json.loads(content)
        except ValueError as error:
            raise ValidationError(f"The content is not valid JSON: {error}.") from None
        if not isinstance(parsed, dict):
            raise ValidationError("The content must be a JSON object ({ ... }).")
        return content


class PolicyTargetForm(PolicyActionForm):
    """Attach a policy to (or detach it from) one root, OU or account: `targets` are the choices."""

    target_id = forms.ChoiceField(label="Target")

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "target_id", forms.ChoiceField).choices = targets


class EffectivePolicyForm(forms.Form):
    """Which account and type to show an effective policy for (a GET form)."""

    account_id = model_char_field("AccountId", label="Account")
    policy_type = forms.ChoiceField(label="Policy type")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "policy_type", forms.ChoiceField).choices = _choices(selectors.effective_policy_types())
