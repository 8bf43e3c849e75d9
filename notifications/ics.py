"""The calendar feed as iCalendar (RFC 5545): one VEVENT per deadline, start or end, each with
VALARMs at the reminder thresholds, stable UIDs so a calendar updates rather than duplicates.

`calendar(user)` is a user's whole feed: the invitations' deadlines and the transfers' starts and
ends (`selectors.calendar_entries`), and the pending two-person requests the user may decide with
their answer-by moments (`approval_entries`): a request decided, withdrawn or lapsed is no longer
in it, so a calendar that polls the feed drops it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Alarm, Calendar
from icalendar import Event as VEvent

from approvals.covered import covered
from approvals.models import State
from approvals.selectors import requests_for
from approvals.services import may_decide
from orgportal.roles import User, roles_by_connection

from .models import ConnectionSettings
from .selectors import Entry, calendar_entries

PRODID = "-//orgportal//notifications//EN"
# A request with too little time left for any reminder threshold still rings once before.
LAST_CALL = timedelta(hours=1)


def _held(roles: Mapping[int, frozenset[str]], connection_id: int) -> frozenset[str]:
    try:
        return roles[connection_id]  # a defaultdict (a superuser's) answers every connection
    except KeyError:
        return frozenset()


def approval_entries(user: User) -> list[Entry]:
    """The pending two-person requests `user` may decide — on a connection they may read, holding
    the roles `approvals.services.required_roles` names, not their own — not yet past their
    answer-by moment, each at that moment with alarms at the connection's reminder thresholds
    that fit in the time the request was given."""
    if not user.is_authenticated:
        return []
    pending = list(
        requests_for(user)
        .filter(state=State.PENDING, answer_by__gt=timezone.now())
        .exclude(requester_id=user.pk)
        .order_by("answer_by", "id")
    )
    if not pending:
        return []
    roles = roles_by_connection(user)
    theirs = [a for a in pending if may_decide(a, user, _held(roles, a.connection_id))]
    reminders = {
        s.connection_id: s.thresholds()
        for s in ConnectionSettings.objects.filter(connection_id__in={a.connection_id for a in theirs})
    }
    default = ConnectionSettings().thresholds()
    entries = []
    for approval in theirs:
        label = covered(approval.action).label
        name = approval.connection.name
        window = approval.answer_by - approval.requested_at
        alarms = tuple(t for t in reminders.get(approval.connection_id, default) if t < window)
        entries.append(
            Entry(
                uid=f"approval-request-{approval.pk}",
                at=approval.answer_by,
                title=f"Approve or reject by: {label} {approval.resource} ({name})",
                description=f"{approval.requester_label} asks a second person to approve request #{approval.pk}: "
                f"{label}, {approval.resource} on {name}. Unanswered by now it lapses and nothing is sent.",
                path=reverse("approval_detail", args=[approval.pk]),
                alarms=alarms or (LAST_CALL,),
            )
        )
    return entries


def calendar(user: User) -> bytes:
    """`user`'s whole calendar feed (see the module docstring)."""
    entries = calendar_entries(user) + approval_entries(user)
    entries.sort(key=lambda e: (e.at, e.uid))
    return feed(entries, name=f"orgportal ({user.get_username()})")


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
