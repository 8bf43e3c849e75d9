"""Reads for the notification pages: a user's subscription (or their roles' defaults), the
deliveries they may see, the one "for this user" lookup of a delivery and of a channel, and the
calendar feed's entries (only from connections the user may read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from handshakes.models import OPEN_STATES, Handshake
from handshakes.selectors import deadline_of
from orgportal.models import AwsConnection, Role
from orgportal.roles import User, connections_for, get_connection_for_user, roles_on
from transfers.models import ResponsibilityTransfer

from .models import ROLE_DEFAULTS, CalendarFeed, Channel, ConnectionSettings, Delivery, Subscription

SHOWN = 100


@dataclass(frozen=True)
class Chosen:
    events: frozenset[str]
    channels: frozenset[str]
    digest: bool
    is_default: bool


def subscription_for(user: User, connection: AwsConnection) -> Chosen:
    """What `user` gets from `connection`: their saved choice, or their roles' defaults."""
    saved = Subscription.objects.filter(user_id=user.pk, connection=connection).first()  # type: ignore[misc]
    if saved is not None:
        return Chosen(frozenset(saved.events), frozenset(saved.channels), saved.digest, False)
    roles = roles_on(user, connection)
    events = frozenset().union(*(ROLE_DEFAULTS.get(role, frozenset()) for role in roles))
    channels = {"email"}
    if Role.ADMIN in roles:
        channels |= {c.choice for c in Channel.objects.filter(connection=connection)}
    return Chosen(events, frozenset(channels) if events else frozenset(), False, True)


def admin_connection_ids(user: User) -> list[int]:
    return list(connections_for(user, Role.ADMIN).values_list("pk", flat=True))


def deliveries_for(user: User) -> QuerySet[Delivery]:
    """The user's own deliveries, and every delivery of the connections they administer."""
    readable = connections_for(user).values("pk")
    mine = Q(recipient_id=user.pk)
    administered = Q(connection_id__in=admin_connection_ids(user))
    return (
        Delivery.objects.filter(mine | administered, connection_id__in=readable)
        .select_related("event", "connection", "recipient", "channel")
        .order_by("-created_at", "-id")
    )


def get_delivery_for_user(user: User, pk: int, role: str = Role.ADMIN) -> Delivery:
    """The delivery `pk` of a connection `user` may read (404 otherwise), needing `role` (403)."""
    delivery = Delivery.objects.select_related("event", "connection").filter(pk=pk).first()
    if delivery is None:
        raise Http404("No such notification")
    get_connection_for_user(user, delivery.connection_id, role)
    return delivery


def get_channel_for_user(user: User, pk: int, role: str = Role.ADMIN) -> Channel:
    channel = Channel.objects.select_related("connection").filter(pk=pk).first()
    if channel is None:
        raise Http404("No such channel")
    get_connection_for_user(user, channel.connection_id, role)
    return channel


def feed_user(token: str) -> User | None:
    feed = CalendarFeed.objects.select_related("user").filter(token_digest=CalendarFeed.digest(token)).first()
    if feed is None or not feed.user.is_active:
        return None
    return feed.user


@dataclass(frozen=True)
class Entry:
    """One calendar event: a moment, what it is, and the reminders before it."""

    uid: str
    at: datetime
    title: str
    description: str
    path: str
    alarms: tuple[timedelta, ...]


def calendar_entries(user: User) -> list[Entry]:
    """Answer-by deadlines of open invitations, and billing transfer starts and ends, from the
    connections `user` may read (a year back at most for transfers: a calendar keeps its past)."""
    connections = {c.pk: c for c in connections_for(user)}
    reminders = {
        s.connection_id: tuple(s.thresholds()) for s in ConnectionSettings.objects.filter(connection__in=connections)
    }
    default = tuple(ConnectionSettings().thresholds())
    entries: list[Entry] = []
    open_ones = Handshake.objects.filter(
        connection__in=list(connections), state__in=OPEN_STATES, vanished_at__isnull=True
    ).only("pk", "connection_id", "handshake_id", "action", "counterparty", "expires_at", "transfer_start_at")
    for h in open_ones:
        deadline = deadline_of(h)
        if deadline is None:
            continue
        name = connections[h.connection_id].name
        entries.append(
            Entry(
                uid=f"answer-by-{h.connection_id}-{h.handshake_id}",
                at=deadline,
                title=f"Answer by: {h.action_label} {h.handshake_id} ({name})",
                description=f"{h.action_label} invitation {h.handshake_id} with {h.counterparty or 'another party'} "
                f"on {name} lapses unless answered.",
                path=reverse("handshake_detail", args=[h.pk]),
                alarms=reminders.get(h.connection_id, default),
            )
        )
    since = timezone.now() - timedelta(days=366)
    transfers = ResponsibilityTransfer.objects.filter(
        connection__in=list(connections), vanished_at__isnull=True
    ).filter(Q(start_at__gte=since) | Q(end_at__gte=since))
    for t in transfers:
        name = t.name or t.transfer_id
        where = connections[t.connection_id].name
        path = reverse("transfer_detail", args=[t.pk])
        # Its start (unless it can no longer happen) a day ahead, its end a week and a day ahead.
        may_start = t.status in {"REQUESTED", "ACCEPTED"}
        for edge, at, says, alarms in (
            ("start", t.start_at if may_start else None, f"starts, status {t.status}", (timedelta(days=1),)),
            ("end", t.end_at, "ends", (timedelta(days=7), timedelta(days=1))),
        ):
            if at and at >= since:
                entries.append(
                    Entry(
                        uid=f"transfer-{edge}-{t.connection_id}-{t.transfer_id}",
                        at=at,
                        title=f"Billing transfer {edge}s: {name} ({where})",
                        description=f"Billing transfer {t.transfer_id} ({t.get_direction_display()}) {says}.",
                        path=path,
                        alarms=alarms,
                    )
                )
    entries.sort(key=lambda e: (e.at, e.uid))
    return entries
