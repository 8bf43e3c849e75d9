"""Forms of the handshake and organization actions: answer (accept, decline), cancel, invite an
account, enable all features. The bases and the model-derived fields are the foundation's
(`orgportal.action_forms`)."""

from __future__ import annotations

from typing import Any

from django import forms

from orgportal.action_forms import ActionForm, InviteForm, TargetField


class AnswerForm(ActionForm):
    """Accept or decline. A billing-transfer invitation must be accepted knowingly."""

    confirm_fields = ("understood",)

    understood = forms.BooleanField(
        required=False,
        label="I have read what accepting means for our invoices, cost data and credits, and exported what we need.",
    )

    def __init__(self, *args: Any, needs_understanding: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_understanding = needs_understanding
        if not needs_understanding:
            del self.fields["understood"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.needs_understanding and cleaned.get("confirmed") and not cleaned.get("understood"):
            self.add_error("understood", "Tick this box to confirm you have read the consequences.")
        return cleaned


class InviteAccountForm(InviteForm):
    invitee = "invited account"

    target = TargetField(label="Account id or email address")

    def aws_params(self) -> dict[str, Any]:
        """Exactly what InviteAccountToOrganization will receive (for the review page)."""
        return {"Target": self.target_param(), **self.notes_and_tags()}


class EnableAllFeaturesForm(ActionForm):
    confirm_fields = ("understood",)
    understood = forms.BooleanField(
        required=False,
        label="I understand every member account must approve, and the change cannot be undone.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("confirmed") and not cleaned.get("understood"):
            self.add_error("understood", "Tick this box to confirm.")
        return cleaned
