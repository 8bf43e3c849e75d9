"""Forms of the notification pages: a subscription (events and channels, digest), a channel (its
URL checked by the SSRF guard before it is stored), and a connection's reminder thresholds."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from . import channels
from .models import SUBSCRIBABLE, Channel, EventKind


class SubscriptionForm(forms.Form):
    events = forms.MultipleChoiceField(
        label="Tell me about", required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    channels = forms.MultipleChoiceField(label="On", required=False, widget=forms.CheckboxSelectMultiple, choices=())
    digest = forms.BooleanField(
        label="Hold emails for one daily digest (deadline reminders always go out at once)", required=False
    )

    def __init__(self, *args: Any, channel_rows: list[Channel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events = self.fields["events"]
        assert isinstance(events, forms.MultipleChoiceField)
        events.choices = [(kind, EventKind(kind).label) for kind in SUBSCRIBABLE]
        chosen = self.fields["channels"]
        assert isinstance(chosen, forms.MultipleChoiceField)
        chosen.choices = [("email", "Email to me")] + [
            (c.choice, f"{c.get_kind_display()}: {c.name} ({c.host})") for c in channel_rows
        ]


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=Channel.Kind.choices, label="Kind")
    name = forms.CharField(max_length=100, label="Name")
    url = forms.URLField(
        max_length=2048,
        label="Webhook URL",
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again.",
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            channels.check_url(url)
        except channels.UnsafeDestination as exc:
            raise ValidationError(str(exc)) from None
        return url


class ConnectionSettingsForm(forms.Form):
    reminders = forms.CharField(
        label="Remind before the answer-by deadline (hours, comma separated)",
        max_length=200,
        help_text="For example 168, 48, 24 (7 days, 48 hours, 24 hours).",
    )
    sync_failing_after = forms.IntegerField(
        label="Tell when syncs fail for longer than (minutes)", min_value=1, max_value=7 * 24 * 60
    )

    def clean_reminders(self) -> list[int]:
        raw = self.cleaned_data["reminders"]
        hours: list[int] = []
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                value = int(part)
            except ValueError:
                raise ValidationError(f"{part!r} is not a whole number of hours.") from None
            if not 1 <= value <= 24 * 90:
                raise ValidationError("Each reminder is 1 to 2160 hours (90 days) before the deadline.")
            hours.append(value)
        if len(hours) > 10:
            raise ValidationError("At most 10 reminders.")
        return [h * 3600 for h in hours]
