"""Forms of the billing-transfer actions: invite an organization, rename, terminate, cancel.

Fields take their limits and patterns from the service model (see orgportal.action_forms); the start
and end dates offer only the values the API accepts, computed by transfers.services in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from orgportal.action_forms import ActionForm, InviteForm, TargetField, model_char_field

from .models import ResponsibilityTransfer
from .services import end_choices, start_choices


def _month_label(moment: datetime) -> str:
    return moment.strftime("%B %Y")


def _choice_value(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _MomentChoiceField(forms.TypedChoiceField):
    """A choice among exact UTC moments, posted as ISO strings and cleaned back to datetimes."""

    def __init__(self, *, moments: list[datetime], labeller: Any, **kwargs: Any) -> None:
        by_value = {_choice_value(m): m for m in moments}
        super().__init__(
            choices=[(_choice_value(m), labeller(m)) for m in moments],
            coerce=lambda value: by_value[value],
            **kwargs,
        )


class InviteOrganizationForm(InviteForm):
    """InviteOrganizationToTransferResponsibility: this organization offers to pay another's bills."""

    invitee = "invited organization"

    target = TargetField(
        label="Management account of the organization to pay for (account id or email)",
    )
    source_name = model_char_field(
        "ResponsibilityTransferName",
        label="Name of the transfer",
        help_text="Printable ASCII; both organizations see it.",
    )
    start = forms.TypedChoiceField(label="First month we pay for")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Computed per form, not at import: the offered months move with the clock.
        self.fields["start"] = _MomentChoiceField(
            moments=start_choices(),
            labeller=lambda m: f"{_month_label(m)} (starts {m:%Y-%m-%d} 00:00 UTC)",
            label="First month we pay for",
            help_text="The invited organization must accept at least 24 hours before the start.",
        )

    def aws_params(self) -> dict[str, Any]:
        """Exactly what InviteOrganizationToTransferResponsibility will receive (for the review page)."""
        return {
            "Type": "BILLING",
            "Target": self.target_param(),
            "SourceName": self.cleaned_data["source_name"],
            "StartTimestamp": self.cleaned_data["start"],
            **self.notes_and_tags(),
        }


class RenameTransferForm(ActionForm):
    name = model_char_field("ResponsibilityTransferName", label="New name")


class TerminateTransferForm(ActionForm):
    """End an accepted transfer; the user must type its name (or id) to confirm."""

    confirm_fields = ("confirm_name",)

    end = forms.TypedChoiceField(label="Last day we pay for")
    confirm_name = forms.CharField(label="Type the transfer's name to confirm", max_length=128, required=False)

    def __init__(self, *args: Any, transfer: ResponsibilityTransfer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transfer = transfer
        self.fields["end"] = _MomentChoiceField(
            moments=end_choices(),
            labeller=lambda m: f"End of {_month_label(m)} ({m:%Y-%m-%d} 23:59:59 UTC)",
            label="Last day we pay for",
        )

    @property
    def expected_name(self) -> str:
        return self.transfer.name or self.transfer.transfer_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("confirmed") and (cleaned.get("confirm_name") or "").strip() != self.expected_name:
            self.add_error(
                "confirm_name",
                ValidationError(f"Type {self.expected_name!r} exactly to confirm that this transfer should end."),
            )
        return cleaned
