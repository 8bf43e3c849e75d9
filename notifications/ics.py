"""The calendar feed as iCalendar (RFC 5545): one VEVENT per deadline, start or end, each with
VALARMs at the reminder thresholds, stable UIDs so a calendar updates rather than duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from icalendar import Alarm, Calendar
from icalendar import Event as VEvent

from .selectors import Entry

PRODID = "-//orgportal//notifications//EN"


def feed(entries: list[Entry], *, name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    # Calendar apps poll a subscribed URL; this asks for at least hourly.
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    stamp = datetime.now(UTC)
    base = settings.NOTIFY_BASE_URL.rstrip("/")
    for entry in entries:
        event = VEvent()
        event.add("uid", f"{entry.uid}@orgportal")
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.at.astimezone(UTC))
        event.add("dtend", entry.at.astimezone(UTC) + timedelta(minutes=30))
        event.add("summary", entry.title)
        event.add("description", f"{entry.description}\n{base}{entry.path}")
        event.add("url", f"{base}{entry.path}")
        event.add("transp", "TRANSPARENT")
        for before in entry.alarms:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", entry.title)
            alarm.add("trigger", -before)
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
