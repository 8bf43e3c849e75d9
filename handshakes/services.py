"""Handshake actions: accept, decline, cancel — and the two organization actions that create a
handshake, InviteAccountToOrganization and EnableAllFeatures.

Each service is keyword-only and typed, checks the state first, and goes through the one write
path (`orgportal.actions.perform`): claim, audit the intent, call AWS with the connection's action
credentials, apply the response to the cached rows with an "action" change, audit the outcome.
Views check roles through `orgportal.roles`; the services check them again, so a task or a shell
cannot skip them either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from orgportal import aws
from orgportal.actions import ActionRefused, apply_to_row, perform, resource_key
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from transfers.models import ResponsibilityTransfer

from .models import OPEN_STATES, Direction, Handshake
from .sync import HANDSHAKE, handshake_row

# What a decided handshake means for the billing transfer it carries (AWS moves both together).
TRANSFER_STATUS_AFTER = {"ACCEPTED": "ACCEPTED", "DECLINED": "DECLINED", "CANCELED": "CANCELED"}


def apply_handshake(*, handshake: Handshake, data: dict[str, Any]) -> Handshake:
    """Write AWS's answer about `handshake` to its cached row (mapped exactly as the sync maps a
    listed handshake), with an "action" change entry. Runs inside the outcome transaction."""
    old_state = handshake.state
    apply_to_row(handshake, HANDSHAKE, handshake_row(data, handshake.connection))
    if handshake.state != old_state:
        _follow_transfer(handshake)
    return handshake


def _follow_transfer(handshake: Handshake) -> None:
    """A TRANSFER_RESPONSIBILITY handshake decided in AWS decides its transfer too: mirror that on
    the cached transfer rows of the same connection (the next sync confirms it from AWS)."""
    from transfers.sync import TRANSFER

    status = TRANSFER_STATUS_AFTER.get(handshake.state)
    if not handshake.transfer_id or status is None:
        return
    for transfer in ResponsibilityTransfer.objects.filter(
        connection_id=handshake.connection_id, transfer_id=handshake.transfer_id
    ).exclude(status=status):
        apply_to_row(transfer, TRANSFER, {"status": status})


def create_sent_handshake(*, connection: AwsConnection, data: dict[str, Any]) -> Handshake:
    """Cache a handshake this connection just sent (an invitation), as AWS returned it."""
    existing = Handshake.objects.filter(connection=connection, handshake_id=data["Id"]).first()
    if existing is not None:
        return apply_handshake(handshake=existing, data=data)
    handshake = Handshake(connection=connection)
    row = handshake_row(data, connection)
    row["direction"] = Direction.SENT  # we just sent it, whatever our cached identity says
    apply_to_row(handshake, HANDSHAKE, row)
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


def _guard_open(handshake: Handshake, *, direction: str, verb: str, refresh: bool = True) -> Any:
    """The state guard: re-read the row (as the previous claim holder left it) and refuse when it
    is no longer open or not on the side that may `verb` it. `refresh=False` checks the row as the
    caller loaded it (the fail-fast check before the claim; the claim's guard reads it again)."""

    def guard() -> None:
        if refresh:
            # refresh_from_db() drops the cached connection (and its credentials): keep it, the
            # connection row is not what the guard is about and the AWS call needs it next.
            connection = handshake.connection
            handshake.refresh_from_db()
            if handshake.connection_id == connection.pk:
                handshake.connection = connection
        if handshake.direction != direction:
            side = "the invited party" if direction == Direction.RECEIVED else "the sender"
            raise ActionRefused(f"Only {side} can {verb} this invitation.", status=409)
        if handshake.state not in OPEN_STATES:
            raise ActionRefused(
                f"This invitation is already {handshake.state.lower()}; there is nothing to {verb}.", status=409
            )

    return guard


@dataclass(frozen=True)
class Answer:
    """One way to answer an open handshake: the AWS call, the side that may give it, the role."""

    operation: str
    direction: str
    role: str


ANSWERS = {
    "accept": Answer("AcceptHandshake", Direction.RECEIVED, Role.APPROVER),
    "decline": Answer("DeclineHandshake", Direction.RECEIVED, Role.APPROVER),
    "cancel": Answer("CancelHandshake", Direction.SENT, Role.OPERATOR),
}


def handshake_answer(*, handshake: Handshake, verb: str, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Answer an open handshake as `verb` (a key of ANSWERS) says: accept or decline a received
    invitation (AcceptHandshake, DeclineHandshake; Approver role), or cancel one this connection
    sent (CancelHandshake; Operator role)."""
    answer = ANSWERS[verb]
    _require(actor, handshake.connection, answer.role)
    guard = _guard_open(handshake, direction=answer.direction, verb=verb)
    # Fail fast, on the row as loaded, before touching the claim table; under the claim the guard
    # reads it again.
    _guard_open(handshake, direction=answer.direction, verb=verb, refresh=False)()
    outcome = perform(
        connection=handshake.connection,
        actor=actor,
        request=request,
        action=f"handshake.{verb}",
        resource=handshake.handshake_id,
        key=resource_key("handshake", handshake.handshake_id),
        operation=answer.operation,
        params={"HandshakeId": handshake.handshake_id},
        guard=guard,
        apply=lambda data: apply_handshake(handshake=handshake, data=data["Handshake"]),
        resync=lambda: resync_handshake(handshake),
    )
    result: Handshake = outcome.result
    return result


def handshake_accept(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Accept a received invitation (AcceptHandshake). Approver role."""
    return handshake_answer(handshake=handshake, verb="accept", actor=actor, request=request)


def handshake_decline(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Decline a received invitation (DeclineHandshake). Approver role."""
    return handshake_answer(handshake=handshake, verb="decline", actor=actor, request=request)


def handshake_cancel(*, handshake: Handshake, actor: Any, request: HttpRequest | None = None) -> Handshake:
    """Cancel an invitation this connection sent (CancelHandshake). Operator role."""
    return handshake_answer(handshake=handshake, verb="cancel", actor=actor, request=request)


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
        apply=lambda data: create_sent_handshake(connection=connection, data=data["Handshake"]),
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
        apply=lambda data: create_sent_handshake(connection=connection, data=data["Handshake"]),
        submission=submission,
    )
    result: Handshake = outcome.result
    return result
