"""The audit page's filter form (GET): time range, actor, connection, action, outcome."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from orgportal.models import AwsConnection

from .models import Outcome
from .selectors import AuditFilters

_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(
        required=False,
        input_formats=_DATETIME_FORMATS,
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        required=False,
        input_formats=_DATETIME_FORMATS,
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    actor = forms.CharField(required=False, max_length=150, label="Who")
    connection = forms.ModelChoiceField(queryset=AwsConnection.objects.none(), required=False, empty_label="All")
    action = forms.CharField(required=False, max_length=64)
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *Outcome.choices])

    def __init__(self, *args: Any, connections: QuerySet[AwsConnection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connections  # type: ignore[attr-defined]

    def filters(self) -> AuditFilters:
        """The valid filters (call after is_valid(); an invalid field filters nothing)."""
        data = getattr(self, "cleaned_data", {})
        connection = data.get("connection")
        return AuditFilters(
            since=data.get("since"),
            until=data.get("until"),
            actor=(data.get("actor") or "").strip(),
            connection_id=connection.pk if connection is not None else None,
            action=(data.get("action") or "").strip(),
            outcome=data.get("outcome") or "",
        )
