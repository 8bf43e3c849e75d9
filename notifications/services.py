"""Notification actions: the entry points the sync and beat call, and what users do — choose
their subscriptions, add and remove channels, send a test message, retry a delivery, rotate
their calendar URL, unsubscribe from a link. Keyword-only, one transaction each, audited.

`process_connection(connection)` is the one entry point after a sync of a connection (change
rows in, events and deliveries out: see `notifications.outbox`).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from audit.events import record
from orgportal.models import AwsConnection, Role
from orgportal.roles import SignedInUser, has_role

from . import channels
from .delivery import UNSUBSCRIBE_SALT, Drained, deliver_now
from .models import CalendarFeed, Channel, ConnectionSettings, Delivery, Event, EventKind, Subscription
from .outbox import Outcome, process_connection, remind
from .selectors import subscription_for

__all__ = [
    "Outcome",
    "calendar_rotate",
    "channel_add",
    "channel_delete",
    "connection_settings_save",
    "delivery_retry",
    "process_connection",
    "remind",
    "send_test",
    "subscription_save",
    "unsubscribe",
]


@transaction.atomic
def _save_audited(
    model: Any,
    lookup: dict[str, Any],
    chosen: dict[str, Any],
    *,
    stamp: bool = False,
    action: str,
    resource: str,
    actor: SignedInUser,
    connection: AwsConnection,
    request: HttpRequest | None,
) -> Any:
    """One settings row written (created or replaced) with what the user `chosen`, and audited
    with it, in one transaction; `stamp`: the row's `updated_at` set too."""
    values = {**chosen, "updated_at": timezone.now()} if stamp else chosen
    row, _ = model.objects.update_or_create(**lookup, defaults=values)
    record(
        action=action,
        actor=actor,
        request=request,
        connection=connection,
        resource=resource.format(pk=row.pk),
        params=chosen,
    )
    return row


def subscription_save(
    *,
    actor: SignedInUser,
    connection: AwsConnection,
    events: list[str],
    channel_choices: list[str],
    digest: bool,
    request: HttpRequest | None = None,
) -> Subscription:
    chosen = {"events": sorted(events), "channels": sorted(channel_choices), "digest": digest}
    return _save_audited(
        Subscription,
        {"user": actor, "connection": connection},
        chosen,
        stamp=True,
        action="notification.subscription",
        resource="subscription/{pk}",
        actor=actor,
        connection=connection,
        request=request,
    )


def connection_settings_save(
    *,
    actor: SignedInUser,
    connection: AwsConnection,
    reminder_seconds: list[int],
    sync_failing_after_seconds: int,
    request: HttpRequest | None = None,
) -> ConnectionSettings:
    chosen = {
        "reminder_seconds": sorted(set(reminder_seconds), reverse=True),
        "sync_failing_after_seconds": sync_failing_after_seconds,
    }
    return _save_audited(
        ConnectionSettings,
        {"connection": connection},
        chosen,
        action="notification.settings",
        resource=f"connection/{connection.pk}",
        actor=actor,
        connection=connection,
        request=request,
    )


def channel_add(
    *,
    actor: SignedInUser,
    connection: AwsConnection,
    kind: str,
    name: str,
    url: str,
    request: HttpRequest | None = None,
) -> tuple[Channel, str]:
    """Store a channel (URL encrypted) after the SSRF guard accepted its URL; the channel and,
    for a signed webhook, its signing secret — shown once, like the URL never again."""
    _, host, _, _ = channels.check_url(url)
    secret = secrets.token_urlsafe(32) if kind == Channel.Kind.WEBHOOK else ""
    with transaction.atomic():
        channel = Channel(connection=connection, kind=kind, name=name, host=host, created_by=actor)
        channel.url = url
        channel.secret = secret
        channel.save()
        _audit_channel("add", channel, actor=actor, request=request)
    return channel, secret


def _audit_channel(verb: str, channel: Channel, *, actor: SignedInUser, request: HttpRequest | None) -> None:
    """A channel's audit event names its kind, name and host: never its URL or secret."""
    record(
        action=f"notification.channel_{verb}",
        actor=actor,
        request=request,
        connection=channel.connection,
        resource=f"channel/{channel.pk}",
        params={"kind": channel.kind, "name": channel.name, "host": channel.host},
    )


@transaction.atomic
def channel_delete(*, actor: SignedInUser, channel: Channel, request: HttpRequest | None = None) -> None:
    _audit_channel("delete", channel, actor=actor, request=request)
    # What still waits for this channel can never be sent: say so instead of retrying it.
    Delivery.objects.filter(channel=channel, state__in=[Delivery.State.PENDING, Delivery.State.DIGEST]).update(
        state=Delivery.State.DEAD, last_error="The channel was removed."
    )
    channel.delete()


def send_test(
    *, actor: SignedInUser, connection: AwsConnection, channel: Channel | None, request: HttpRequest | None = None
) -> Delivery:
    """A test message now: to `channel`, or (None) to the actor's own email. The delivery row
    says how it went (sent, or waiting with the receiver's answer)."""
    where = channel.name if channel else actor.email
    with transaction.atomic():
        event = Event.objects.create(
            key=f"test:{uuid.uuid4().hex}",
            connection=connection,
            kind=EventKind.TEST,
            priority=0,
            title=f"Test message for {connection.name}",
            body=f"{actor.get_username()} sent this test from orgportal to check that {where} receives notifications.",
            path=reverse("notifications:list"),
            resource=f"connection/{connection.pk}",
            data={"test": True},
        )
        delivery = Delivery.objects.create(
            key=f"{event.pk}:{'channel:' + str(channel.pk) if channel else 'email:' + str(actor.pk)}",
            event=event,
            connection=connection,
            recipient=None if channel else actor,
            channel=channel,
            medium=channel.kind if channel else Delivery.Medium.EMAIL,
            priority=0,
        )
        record(
            action="notification.test",
            actor=actor,
            request=request,
            connection=connection,
            resource=f"notification/{delivery.pk}",
            params={"to": where, "medium": delivery.medium},
        )
    deliver_now([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def delivery_retry(*, actor: SignedInUser, delivery: Delivery, request: HttpRequest | None = None) -> Drained:
    """An admin sends a waiting or dead delivery again now."""
    if not has_role(actor, delivery.connection, Role.ADMIN):
        raise PermissionDenied("Only admins of the connection may retry a delivery.")
    with transaction.atomic():
        requeued = Delivery.objects.filter(
            pk=delivery.pk, state__in=[Delivery.State.DEAD, Delivery.State.PENDING]
        ).update(state=Delivery.State.PENDING, next_attempt_at=timezone.now())
        record(
            action="notification.retry",
            actor=actor,
            request=request,
            connection=delivery.connection,
            resource=f"notification/{delivery.pk}",
            params={"state": delivery.state, "attempts": delivery.attempts},
            outcome="ok" if requeued else "denied",
            error="" if requeued else f"The delivery is {delivery.state}.",
        )
    return deliver_now([delivery.pk]) if requeued else Drained()


@transaction.atomic
def calendar_rotate(*, actor: SignedInUser, request: HttpRequest | None = None) -> str:
    """A new secret calendar token for `actor` (the old URL stops working); the token."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(
        user=actor, defaults={"token_digest": CalendarFeed.digest(token), "created_at": timezone.now()}
    )
    record(action="notification.calendar_rotate", actor=actor, request=request, resource=f"calendar/{actor.pk}")
    return token


def unsubscribe(*, token: str, request: HttpRequest | None = None) -> tuple[Any, AwsConnection] | None:
    """Stop the emails of one user on one connection, from a signed link; None for a bad link."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user = get_user_model().objects.get(pk=data["u"])
        connection = AwsConnection.objects.get(pk=data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, LookupError):
        return None
    except (AwsConnection.DoesNotExist, get_user_model().DoesNotExist):
        return None
    current = subscription_for(user, connection)
    with transaction.atomic():
        Subscription.objects.update_or_create(
            user=user,
            connection=connection,
            defaults={
                "events": sorted(current.events),
                "channels": sorted(set(current.channels) - {"email"}),
                "digest": current.digest,
                "updated_at": timezone.now(),
            },
        )
        record(
            action="notification.unsubscribe",
            actor=user,
            request=request,
            connection=connection,
            resource=f"subscription/{user.pk}",
            params={"channel": "email"},
        )
    return user, connection
