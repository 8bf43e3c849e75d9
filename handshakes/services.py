"""Handshake actions: accept, decline, cancel — and the organization actions that create or end a
handshake: InviteAccountToOrganization, EnableAllFeatures, and the invitation to a billing
transfer (InviteOrganizationToTransferResponsibility) with its withdrawal (CancelHandshake).

Each service is keyword-only and typed and reads top to bottom: who may (`require_role`: views
check it too, the service again so a task or a shell cannot skip it), then, under the one write
path's claim (`orgportal.writepath.ActionClaim`), the state guard on the fresh row, the AWS call
with the connection's action credentials, and the response applied to the cached rows with an
"action" change; the claim audits the intent and the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from orgportal import aws
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from orgportal.writepath import ActionClaim, ActionRefused, PlannedAction, apply_to_row, pass_gates, resource_key
from transfers.models import Direction as TransferDirection
from transfers.models import ResponsibilityTransfer
from transfers.services import (
    check_status,
    other_copies,
    refresh_copies,
    resync_transfer,
    start_choices,
    transfer_copies,
)
from transfers.sync import TRANSFER, transfer_row

from .models import Direction, Handshake
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


def other_sides(*, connection_id: int, handshake_id: str, transfer_id: str) -> list[tuple[Any, Any]]:
    """The re-reads of the other copies an answer to a handshake changed: the same handshake cached
    by another connection (the sender's copy of an invitation received here, or the reverse) and,
    for a billing invitation, that connection's copy of the transfer it decides."""
    copies = other_copies(Handshake, connection_id=connection_id, handshake_id=handshake_id)
    return [
        *((resync_handshake, copy) for copy in copies),
        *transfer_copies(transfer_id, connection_id=connection_id),
    ]


def refreshed(handshake: Handshake) -> Handshake:
    """`handshake` read again from the database (as the previous claim holder left it), keeping
    its loaded connection: the connection row is not what a guard is about, and the AWS call
    needs it (and its credentials) next."""
    connection = handshake.connection
    handshake.refresh_from_db()
    if handshake.connection_id == connection.pk:
        handshake.connection = connection
    return handshake


def check_open(handshake: Handshake, *, direction: str, verb: str) -> None:
    """The state guard of an answer: refuse when `handshake` is no longer open or not on the side
    that may `verb` it."""
    if handshake.direction != direction:
        side = "the invited party" if direction == Direction.RECEIVED else "the sender"
        raise ActionRefused(f"Only {side} can {verb} this invitation.", status=409)
    if not handshake.is_open:
        raise ActionRefused(
            f"This invitation is already {handshake.state.lower()}; there is nothing to {verb}.", status=409
        )


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
    require_role(actor, handshake.connection, answer.role)
    # Fail fast, on the row as loaded, before touching the claim table.
    check_open(handshake, direction=answer.direction, verb=verb)
    params = {"HandshakeId": handshake.handshake_id}
    pass_gates(
        PlannedAction(
            action=f"handshake.{verb}",
            connection=handshake.connection,
            actor=actor,
            request=request,
            resource=handshake.handshake_id,
            operation=answer.operation,
            params=params,
            arguments={"handshake": handshake, "verb": verb},
        )
    )
    with ActionClaim(
        connection=handshake.connection,
        actor=actor,
        request=request,
        action=f"handshake.{verb}",
        resource=handshake.handshake_id,
        key=resource_key("handshake", handshake.handshake_id),
        resync=lambda: resync_handshake(handshake),
    ) as claim:
        check_open(refreshed(handshake), direction=answer.direction, verb=verb)
        data = claim.call(answer.operation, params)
        answered = apply_handshake(handshake=handshake, data=data["Handshake"])
    return refresh_copies(
        answered,
        other_sides(
            connection_id=answered.connection_id, handshake_id=answered.handshake_id, transfer_id=answered.transfer_id
        ),
    )


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
    require_role(actor, connection, Role.OPERATOR)
    params = invitation_params(target_id, target_type, notes, tags)
    pass_gates(
        PlannedAction(
            action="organization.invite_account",
            connection=connection,
            actor=actor,
            request=request,
            resource=f"{target_type}:{target_id}",
            operation="InviteAccountToOrganization",
            params=params,
            arguments={"target_id": target_id, "target_type": target_type, "notes": notes, "tags": tags},
            submission=submission,
        )
    )
    with ActionClaim(
        connection=connection,
        actor=actor,
        request=request,
        action="organization.invite_account",
        resource=f"{target_type}:{target_id}",
        key=resource_key(f"invite-account:{connection.pk}", target_id.lower()),
        submission=submission,
    ) as claim:
        data = claim.call("InviteAccountToOrganization", params)
        return create_sent_handshake(connection=connection, data=data["Handshake"])


def invitation_params(
    target_id: str, target_type: str, notes: str, tags: list[dict[str, str]] | None, **more: Any
) -> dict[str, Any]:
    """The parameters of an invitation call: its target and `more`, then the notes and tags when given."""
    params: dict[str, Any] = (
        {**more, "Target": {"Id": target_id, "Type": target_type}}
        if more
        else {"Target": {"Id": target_id, "Type": target_type}}
    )
    if notes:
        params["Notes"] = notes
    if tags:
        params["Tags"] = tags
    return params


def check_all_features_off(connection: AwsConnection) -> None:
    """The guard of EnableAllFeatures, on the connection as last synced."""
    connection.refresh_from_db(fields=["feature_set"])
    if connection.feature_set == "ALL":
        raise ActionRefused("This organization already has all features enabled.", status=409)


def organization_enable_all_features(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None = None, submission: str = ""
) -> Handshake:
    """Start enabling all features (EnableAllFeatures): AWS sends every member account an
    APPROVE_ALL_FEATURES handshake. Admin role."""
    require_role(actor, connection, Role.ADMIN)
    check_all_features_off(connection)
    pass_gates(
        PlannedAction(
            action="organization.enable_all_features",
            connection=connection,
            actor=actor,
            request=request,
            resource=connection.organization_id or connection.name,
            operation="EnableAllFeatures",
            params={},
            arguments={},
            submission=submission,
        )
    )
    with ActionClaim(
        connection=connection,
        actor=actor,
        request=request,
        action="organization.enable_all_features",
        resource=connection.organization_id or connection.name,
        key=resource_key("enable-all-features", str(connection.pk)),
        submission=submission,
    ) as claim:
        check_all_features_off(connection)
        data = claim.call("EnableAllFeatures", {})
        return create_sent_handshake(connection=connection, data=data["Handshake"])


# --- the invitation to a billing transfer, and its withdrawal: handshakes too -----------------


def transfer_invite(
    *,
    connection: AwsConnection,
    actor: Any,
    target_id: str,
    target_type: str,
    source_name: str,
    start_at: datetime,
    notes: str = "",
    tags: list[dict[str, str]] | None = None,
    request: HttpRequest | None = None,
    submission: str = "",
) -> Handshake:
    """Invite another organization's management account to let this one pay its bills
    (InviteOrganizationToTransferResponsibility, Type BILLING). Operator role."""
    require_role(actor, connection, Role.OPERATOR)
    if start_at not in start_choices():
        raise ActionRefused(
            "A billing transfer starts at 00:00 UTC on the 1st of a month that is far enough ahead for the "
            "invitation to be accepted at least 24 hours before. Choose one of the months offered.",
            status=422,
        )
    params = invitation_params(
        target_id, target_type, notes, tags, Type="BILLING", SourceName=source_name, StartTimestamp=start_at
    )
    pass_gates(
        PlannedAction(
            action="transfer.invite",
            connection=connection,
            actor=actor,
            request=request,
            resource=f"{target_type}:{target_id}",
            operation="InviteOrganizationToTransferResponsibility",
            params=params,
            arguments={
                "target_id": target_id,
                "target_type": target_type,
                "source_name": source_name,
                "start_at": start_at,
                "notes": notes,
                "tags": tags,
            },
            submission=submission,
        )
    )
    with ActionClaim(
        connection=connection,
        actor=actor,
        request=request,
        action="transfer.invite",
        resource=f"{target_type}:{target_id}",
        key=resource_key(f"invite-transfer:{connection.pk}", target_id.lower()),
        submission=submission,
    ) as claim:
        data = claim.call(
            "InviteOrganizationToTransferResponsibility",
            params,
            audit={**params, "StartTimestamp": start_at.isoformat()},
        )
        handshake = create_sent_handshake(connection=connection, data=data["Handshake"])
        _cache_new_transfer(connection=connection, handshake=handshake, params=params)
        return handshake


def _cache_new_transfer(*, connection: AwsConnection, handshake: Handshake, params: dict[str, Any]) -> None:
    """The invitation names the new transfer in a RESPONSIBILITY_TRANSFER resource: cache it as an
    inbound (we pay) transfer awaiting an answer, so it shows at once; the next sync completes it."""
    if not handshake.transfer_id:
        return
    if ResponsibilityTransfer.objects.filter(connection=connection, transfer_id=handshake.transfer_id).exists():
        return
    target = params["Target"]
    source = {("ManagementAccountId" if target["Type"] == "ACCOUNT" else "ManagementAccountEmail"): target["Id"]}
    ours = {"ManagementAccountId": connection.account_id, "ManagementAccountEmail": connection.account_email}
    data = {
        "Id": handshake.transfer_id,
        "Name": params["SourceName"],
        "Type": params["Type"],
        "Status": "REQUESTED",
        "Source": source,
        "Target": {k: v for k, v in ours.items() if v},
        "StartTimestamp": params["StartTimestamp"],
        "ActiveHandshakeId": handshake.handshake_id,
    }
    transfer = ResponsibilityTransfer(connection=connection)
    apply_to_row(transfer, TRANSFER, transfer_row(data, TransferDirection.INBOUND))


def check_cancelable(transfer: ResponsibilityTransfer) -> None:
    """The guard of withdrawing a transfer's invitation (`ResponsibilityTransfer.can_cancel`)."""
    if transfer.direction != TransferDirection.INBOUND:
        raise ActionRefused("Only the organization that sent the invitation can cancel it.", status=409)
    check_status(transfer, transfer.can_cancel(), "only an unanswered invitation can be canceled")


def transfer_cancel(
    *, transfer: ResponsibilityTransfer, actor: Any, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """Withdraw an invitation this organization sent, before it is answered (CancelHandshake on the
    transfer's handshake). Operator role."""
    require_role(actor, transfer.connection, Role.OPERATOR)
    transfer.refresh_from_db()
    check_cancelable(transfer)
    handshake_id = transfer.active_handshake_id

    def cached_handshake() -> Handshake | None:
        return Handshake.objects.filter(connection=transfer.connection, handshake_id=handshake_id).first()

    def resync() -> str:
        cached = cached_handshake()
        if cached is not None:
            resync_handshake(cached)
        return resync_transfer(transfer)

    with ActionClaim(
        connection=transfer.connection,
        actor=actor,
        request=request,
        action="transfer.cancel",
        resource=transfer.transfer_id,
        # The handshake's key: cancel and the other side's accept never race inside the portal.
        key=resource_key("handshake", handshake_id),
        resync=resync,
    ) as claim:
        transfer.refresh_from_db()
        check_cancelable(transfer)
        data = claim.call("CancelHandshake", {"HandshakeId": handshake_id})
        cached = cached_handshake()
        if cached is not None:
            apply_handshake(handshake=cached, data=data["Handshake"])  # moves the transfer row too
        if data["Handshake"].get("State") == "CANCELED":
            apply_to_row(transfer, TRANSFER, {"status": "CANCELED"})
        transfer.refresh_from_db()
    return refresh_copies(
        transfer,
        other_sides(connection_id=transfer.connection_id, handshake_id=handshake_id, transfer_id=transfer.transfer_id),
    )
