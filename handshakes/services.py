"""Handshake actions: accept, decline, cancel — and the two organization actions that create a
handshake, InviteAccountToOrganization and EnableAllFeatures.

Each service is keyword-only and typed, checks the state first, and goes through the one write
path (`orgportal.actions.perform`): claim, audit the intent, call AWS with the connection's action
credentials, apply the response to the cached rows with an "action" change, audit the outcome.
Views check roles through `orgportal.roles`; the services check them again, so a task or a shell
cannot skip them either.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from orgportal import aws
from orgportal.actions import ActionRefused, perform, resource_key
from orgportal.history import ObservedChange
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from transfers.models import ResponsibilityTransfer, TransferChange

from .models import OPEN_STATES, Direction, Handshake, HandshakeChange

# What a decided handshake means for the billing transfer it carries (AWS moves both together).
TRANSFER_STATUS_AFTER = {"ACCEPTED": "ACCEPTED", "DECLINED": "DECLINED", "CANCELED": "CANCELED"}

# The fields an action may change on a cached handshake, and where they come from in AWS's shape.
_TRACKED = ("state", "expires_at", "requested_at", "parties", "resources", "arn", "action")


def parse_aws_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def walk_resources(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for resource in resources or []:
        out.append(resource)
        out.extend(walk_resources(resource.get("Resources") or []))
    return out


def aws_handshake_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The cached columns AWS's Handshake shape fills (direction and counterparty excluded: they
    depend on which side is looking, and an action never changes them)."""
    resources = jsonable(data.get("Resources") or [])
    fields: dict[str, Any] = {
        "arn": data.get("Arn", ""),
        "action": data.get("Action", ""),
        "state": data.get("State", ""),
        "requested_at": parse_aws_time(data.get("RequestedTimestamp")),
        "expires_at": parse_aws_time(data.get("ExpirationTimestamp")),
        "parties": jsonable(data.get("Parties") or []),
        "resources": resources,
    }
    for resource in walk_resources(resources):
        if resource.get("Type") == "RESPONSIBILITY_TRANSFER":
            fields["transfer_id"] = resource.get("Value", "")
        elif resource.get("Type") == "TRANSFER_START_TIMESTAMP":
            fields["transfer_start_at"] = _parse_start(resource.get("Value", ""))
    return fields


def _parse_start(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _diff(row: Any, fields: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name, new in fields.items():
        old = getattr(row, name)
        if old != new:
            changes[name] = [jsonable(old), jsonable(new)]
    return changes


def apply_handshake(*, handshake: Handshake, data: dict[str, Any]) -> Handshake:
    """Write AWS's answer about `handshake` to its cached row, with an "action" change entry.
    Runs inside the caller's transaction (the write path's outcome transaction)."""
    fields = aws_handshake_fields(data)
    changes = _diff(handshake, fields)
    if changes:
        now = timezone.now()
        for name, value in fields.items():
            setattr(handshake, name, value)
        handshake.changed_at = now
        handshake.vanished_at = None
        handshake.save()
        HandshakeChange.objects.create(
            handshake=handshake, kind=ObservedChange.Kind.ACTION, changes=changes, observed_at=now
        )
        if "state" in changes:
            _follow_transfer(handshake)
    return handshake


def _follow_transfer(handshake: Handshake) -> None:
    """A TRANSFER_RESPONSIBILITY handshake decided in AWS decides its transfer too: mirror that on
    the cached transfer rows of the same connection (the next sync confirms from AWS)."""
    status = TRANSFER_STATUS_AFTER.get(handshake.state)
    if not handshake.transfer_id or status is None:
        return
    now = timezone.now()
    for transfer in ResponsibilityTransfer.objects.filter(
        connection_id=handshake.connection_id, transfer_id=handshake.transfer_id
    ).exclude(status=status):
        changes = {"status": [transfer.status, status]}
        transfer.status = status
        transfer.changed_at = now
        transfer.save(update_fields=["status", "changed_at"])
        TransferChange.objects.create(
            transfer=transfer, kind=ObservedChange.Kind.ACTION, changes=changes, observed_at=now
        )


def create_sent_handshake(*, connection: AwsConnection, data: dict[str, Any], counterparty: str) -> Handshake:
    """Cache a handshake this connection just sent (an invitation), as AWS returned it."""
    fields = aws_handshake_fields(data)
    now = timezone.now()
    handshake, created = Handshake.objects.get_or_create(
        connection=connection,
        handshake_id=data["Id"],
        defaults={**fields, "direction": Direction.SENT, "counterparty": counterparty, "first_seen_at": now},
    )
    if created:
        HandshakeChange.objects.create(
            handshake=handshake,
            kind=ObservedChange.Kind.ACTION,
            changes={"state": [None, handshake.state]},
            observed_at=now,
        )
    else:
        apply_handshake(handshake=handshake, data=data)
    return handshake


def resync_handshake(handshake: Handshake) -> str:
    """Read the handshake again from AWS (DescribeHandshake) and cache what it says now; returns a
    sentence for the user. A handshake AWS no longer knows is marked vanished, never deleted."""
    try:
        result = aws.call(handshake.connection, "DescribeHandshake", purpose="read", HandshakeId=handshake.handshake_id)
    except aws.AwsError as error:
        if error.code != "HandshakeNotFoundException":
            raise
        Handshake.objects.filter(pk=handshake.pk, vanished_at__isnull=True).update(vanished_at=timezone.now())
        return "AWS no longer lists this invitation; the portal keeps its record."
    with transaction.atomic():
        fresh = Handshake.objects.select_for_update().get(pk=handshake.pk)
        apply_handshake(handshake=fresh, data=result.data["Handshake"])
    return f"The portal refreshed it from AWS: it is now {fresh.state.lower()}."


def _require(actor: Any, connection: AwsConnection, role: str) -> None:
    if actor is not None and getattr(actor, "is_authenticated", False):
        require_role(actor, connection, role)


def _guard_open(handshake: Handshake, *, direction: str, verb: str) -> Any:
    """The state guard: re-read the row (as the previous claim holder left it) and refuse when it
    is no longer open or not on the side that may `verb` it."""

    def guard() -> None:
        handshake.refresh_from_db()
        if handshake.direction != direction:
            side = "the invited party" if direction == Direction.RECEIVED else "the sender"
            raise ActionRefused(f"Only {side} can {verb} this invitation.", status=409)
        if handshake.state not in OPEN_STATES:
            raise ActionRefused(
                f"This invitation is already {handshake.state.lower()}; there is nothing to {verb}.", status=409
            )

    return guard


def _answer(
    *,
    handshake: Handshake,
    actor: Any,
    request: HttpRequest | None,
    operation: str,
    verb: str,
    direction: str,
    role: str,
    audit_action: str,
) -> Handshake:
    _require(actor, handshake.connection, role)
    guard = _guard_open(handshake, direction=direction, verb=verb)
    guard()  # fail fast before touching the claim table; it runs again under the claim
    outcome = perform(
        connection=handshake.connection,
        actor=actor,
        request=request,
        action=audit_action,
        resource=handshake.handshake_id,
        key=resource_key("handshake", handshake.handshake_id),
        operation=operation,
        params={"HandshakeId": handshake.handshake_id},
        guard=guard,
        apply=lambda data: apply_handshake(handshake=handshake, data=data["Handshake"]),
        resync=lambda: resync_handshake(handshake),
    )
    result: Handshake = outcome.result
    return result


def handshake_accept(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Accept a received invitation (AcceptHandshake). Approver role."""
    return _answer(
        handshake=handshake,
        actor=actor,
        request=request,
        operation="AcceptHandshake",
        verb="accept",
        direction=Direction.RECEIVED,
        role=Role.APPROVER,
        audit_action="handshake.accept",
    )


def handshake_decline(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Decline a received invitation (DeclineHandshake). Approver role."""
    return _answer(
        handshake=handshake,
        actor=actor,
        request=request,
        operation="DeclineHandshake",
        verb="decline",
        direction=Direction.RECEIVED,
        role=Role.APPROVER,
        audit_action="handshake.decline",
    )


def handshake_cancel(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Cancel an invitation this connection sent (CancelHandshake). Operator role."""
    return _answer(
        handshake=handshake,
        actor=actor,
        request=request,
        operation="CancelHandshake",
        verb="cancel",
        direction=Direction.SENT,
        role=Role.OPERATOR,
        audit_action="handshake.cancel",
    )


def organization_invite_account(
    *,
    connection: AwsConnection,
    actor: Any,
    target_id: str,
    target_type: str,
    notes: str = "",
    tags: list[dict[str, str]] | None = None,
    request: HttpRequest | None = None,
    submission: str = "",
) -> Handshake:
    """Invite an account (by id or email) to join this organization (InviteAccountToOrganization).
    An account that belongs to another organization may be invited too. Operator role."""
    _require(actor, connection, Role.OPERATOR)
    params: dict[str, Any] = {"Target": {"Id": target_id, "Type": target_type}}
    if notes:
        params["Notes"] = notes
    if tags:
        params["Tags"] = tags
    outcome = perform(
        connection=connection,
        actor=actor,
        request=request,
        action="organization.invite_account",
        resource=f"{target_type}:{target_id}",
        key=resource_key(f"invite-account:{connection.pk}", target_id.lower()),
        operation="InviteAccountToOrganization",
        params=params,
        apply=lambda data: create_sent_handshake(connection=connection, data=data["Handshake"], counterparty=target_id),
        submission=submission,
    )
    result: Handshake = outcome.result
    return result


def organization_enable_all_features(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None = None, submission: str = ""
) -> Handshake:
    """Start enabling all features (EnableAllFeatures): AWS sends every member account an
    APPROVE_ALL_FEATURES handshake. Admin role."""
    _require(actor, connection, Role.ADMIN)

    def guard() -> None:
        connection.refresh_from_db(fields=["feature_set"])
        if connection.feature_set == "ALL":
            raise ActionRefused("This organization already has all features enabled.", status=409)

    guard()
    outcome = perform(
        connection=connection,
        actor=actor,
        request=request,
        action="organization.enable_all_features",
        resource=connection.organization_id or connection.name,
        key=resource_key("enable-all-features", str(connection.pk)),
        operation="EnableAllFeatures",
        params={},
        guard=guard,
        apply=lambda data: create_sent_handshake(
            connection=connection, data=data["Handshake"], counterparty=connection.organization_id
        ),
        submission=submission,
    )
    result: Handshake = outcome.result
    return result
