"""Forms of two-person approval: the decision (approve with an optional reason, reject with a
required one, withdraw) and the connection's rule. The bases are the foundation's."""

from __future__ import annotations

from typing import Any

from django import forms

from orgportal.action_forms import ActionForm

from .covered import RULE_CHOICES
from .models import CHECKER_ROLES

REASON_MAX = 1000


class DecisionForm(ActionForm):
    """Approve (a reason is optional) or reject (a reason is required), on the review step."""

    confirm_fields = ("reason",)

    reason = forms.CharField(
        label="Reason", required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, reason_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason_required = reason_required
        if reason_required:
            self.fields["reason"].label = "Reason (required: the requester reads it)"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.reason_required and cleaned.get("confirmed") and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why, so the requester knows.")
        return cleaned


class RuleForm(ActionForm):
    """Which actions of this connection need a second person, and that person's role."""

    actions = forms.MultipleChoiceField(
        label="Actions that need a second person",
        choices=RULE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    checker_role = forms.ChoiceField(
        label="The second person holds the role", choices=CHECKER_ROLES, help_text="…and the role the action needs."
    )
