"""The audit page's filter form (GET): time range, people or AWS/sync, actor, connection, action
(picked from the actions the trail holds), outcome."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from orgportal.models import AwsConnection

from .models import Outcome
from .selectors import SOURCES, AuditFilters, recorded_actions

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
    source = forms.ChoiceField(required=False, choices=[("", "Everyone"), *SOURCES.items()], label="Done by")
    actor = forms.CharField(required=False, max_length=150, label="Who")
    connection = forms.ModelChoiceField(queryset=AwsConnection.objects.none(), required=False, empty_label="All")
    action = forms.ChoiceField(required=False, choices=[("", "Any")])
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *Outcome.choices])

    def __init__(self, *args: Any, connections: QuerySet[AwsConnection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connections  # type: ignore[attr-defined]
        actions = recorded_actions()
        wanted = (self.data.get("action") or "") if self.is_bound else ""
        if wanted and wanted not in actions:
            actions = sorted([*actions, wanted])  # a link to a new action before the list catches up
        self.fields["action"].choices = [("", "Any"), *((a, action_label(a)) for a in actions)]  # type: ignore[attr-defined]

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
            source=data.get("source") or "",
        )


def action_label(action: str) -> str:
    """An internal action name in words: "handshake_accept" -> "Handshake accept"."""
    return action.replace(".", " ").replace("_", " ").capitalize()
