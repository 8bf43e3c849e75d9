"""Billing-transfer actions: invite an organization, cancel the invitation, rename, terminate.

Each service is keyword-only and typed, checks the state first, and goes through the one write
path (`orgportal.actions.perform`). The date rules of the API live here too, computed in UTC:
a transfer starts at 00:00 on the 1st of a month and must be accepted at least 24 hours before;
it ends at 23:59:59 on the last day of the current or the next month.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from handshakes.models import Handshake
from handshakes.services import (
    apply_handshake,
    create_sent_handshake,
    resync_handshake,
)
from orgportal import aws
from orgportal.actions import ActionRefused, apply_to_row, perform, resource_key
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role

from .models import Direction, ResponsibilityTransfer
from .sync import TRANSFER, transfer_row

# The invited organization must accept at least this long before the start (AWS's rule), plus a
# margin so an offered month is still valid when the other side reads the invitation.
ACCEPT_BEFORE_START = timedelta(hours=24)
OFFER_MARGIN = timedelta(hours=1)
START_MONTHS_OFFERED = 12


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def start_choices(now: datetime | None = None, months: int = START_MONTHS_OFFERED) -> list[datetime]:
    """The start timestamps an invitation may offer: the 1st of each coming month at 00:00 UTC
    whose accept-by moment (24 h before) is still ahead, soonest first."""
    now = now or timezone.now()
    choices: list[datetime] = []
    n = 1
    while len(choices) < months:
        year, month = _add_months(now.year, now.month, n)
        start = _month_start(year, month)
        if start - ACCEPT_BEFORE_START - OFFER_MARGIN > now:
            choices.append(start)
        n += 1
    return choices


def end_choices(now: datetime | None = None) -> list[datetime]:
    """The end timestamps TerminateResponsibilityTransfer allows: 23:59:59 UTC on the last day of
    the current month and of the next month."""
    now = (now or timezone.now()).astimezone(UTC)
    ends: list[datetime] = []
    for n in (0, 1):
        year, month = _add_months(now.year, now.month, n)
        last_day = calendar.monthrange(year, month)[1]
        ends.append(datetime(year, month, last_day, 23, 59, 59, tzinfo=UTC))
    return ends


def apply_transfer(*, transfer: ResponsibilityTransfer, data: dict[str, Any]) -> ResponsibilityTransfer:
    """Write AWS's answer about `transfer` to its cached row (mapped exactly as the sync maps a
    listed transfer), with an "action" change entry. Runs inside the outcome transaction."""
    apply_to_row(transfer, TRANSFER, transfer_row(data, transfer.direction))
    return transfer


def resync_transfer(transfer: ResponsibilityTransfer) -> str:
    """Read the transfer again (DescribeResponsibilityTransfer) and cache it; a sentence for the user."""
    try:
        result = aws.call(
            transfer.connection, "DescribeResponsibilityTransfer", purpose="read", Id=transfer.transfer_id
        )
    except aws.AwsError as error:
        if error.code != "ResponsibilityTransferNotFoundException":
            raise
        ResponsibilityTransfer.objects.filter(pk=transfer.pk, vanished_at__isnull=True).update(
            vanished_at=timezone.now()
        )
        return "AWS no longer lists this billing transfer; the portal keeps its record."
    with transaction.atomic():
        fresh = ResponsibilityTransfer.objects.select_for_update().get(pk=transfer.pk)
        apply_transfer(transfer=fresh, data=result.data["ResponsibilityTransfer"])
    return f"The portal refreshed it from AWS: its status is now {fresh.status.lower()}."


def _require(actor: Any, connection: AwsConnection, role: str) -> None:
    if actor is not None and getattr(actor, "is_authenticated", False):
        require_role(actor, connection, role)


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
    _require(actor, connection, Role.OPERATOR)
    if start_at not in start_choices():
        raise ActionRefused(
            "A billing transfer starts at 00:00 UTC on the 1st of a month that is far enough ahead for the "
            "invitation to be accepted at least 24 hours before. Choose one of the months offered.",
            status=422,
        )
    params: dict[str, Any] = {
        "Type": "BILLING",
        "Target": {"Id": target_id, "Type": target_type},
        "SourceName": source_name,
        "StartTimestamp": start_at,
    }
    if notes:
        params["Notes"] = notes
    if tags:
        params["Tags"] = tags

    def apply(data: dict[str, Any]) -> Handshake:
        handshake = create_sent_handshake(connection=connection, data=data["Handshake"])
        _cache_new_transfer(connection=connection, handshake=handshake, params=params)
        return handshake

    outcome = perform(
        connection=connection,
        actor=actor,
        request=request,
        action="transfer.invite",
        resource=f"{target_type}:{target_id}",
        key=resource_key(f"invite-transfer:{connection.pk}", target_id.lower()),
        operation="InviteOrganizationToTransferResponsibility",
        params=params,
        audit_params={**params, "StartTimestamp": start_at.isoformat()},
        apply=apply,
        submission=submission,
    )
    result: Handshake = outcome.result
    return result


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
    apply_to_row(transfer, TRANSFER, transfer_row(data, Direction.INBOUND))


def transfer_cancel(
    *, transfer: ResponsibilityTransfer, actor: Any, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """Withdraw an invitation this organization sent, before it is answered (CancelHandshake on the
    transfer's handshake). Operator role."""
    _require(actor, transfer.connection, Role.OPERATOR)

    def guard() -> None:
        transfer.refresh_from_db()
        if transfer.direction != Direction.INBOUND:
            raise ActionRefused("Only the organization that sent the invitation can cancel it.", status=409)
        if transfer.status != "REQUESTED" or not transfer.active_handshake_id:
            raise ActionRefused(
                f"This billing transfer is {transfer.status.lower()}; only an unanswered invitation can be canceled.",
                status=409,
            )

    guard()
    handshake_id = transfer.active_handshake_id

    def apply(data: dict[str, Any]) -> ResponsibilityTransfer:
        cached = Handshake.objects.filter(connection=transfer.connection, handshake_id=handshake_id).first()
        if cached is not None:
            apply_handshake(handshake=cached, data=data["Handshake"])  # moves the transfer row too
        if data["Handshake"].get("State") == "CANCELED":
            apply_to_row(transfer, TRANSFER, {"status": "CANCELED"})
        transfer.refresh_from_db()
        return transfer

    def resync() -> str:
        cached = Handshake.objects.filter(connection=transfer.connection, handshake_id=handshake_id).first()
        if cached is not None:
            resync_handshake(cached)
        return resync_transfer(transfer)

    outcome = perform(
        connection=transfer.connection,
        actor=actor,
        request=request,
        action="transfer.cancel",
        resource=transfer.transfer_id,
        # The handshake's key: cancel and the other side's accept never race inside the portal.
        key=resource_key("handshake", handshake_id),
        operation="CancelHandshake",
        params={"HandshakeId": handshake_id},
        guard=guard,
        apply=apply,
        resync=resync,
    )
    result: ResponsibilityTransfer = outcome.result
    return result


def transfer_rename(
    *, transfer: ResponsibilityTransfer, actor: Any, name: str, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """Give the transfer a new name (UpdateResponsibilityTransfer). Operator role."""
    _require(actor, transfer.connection, Role.OPERATOR)

    def guard() -> None:
        transfer.refresh_from_db()
        if transfer.name == name:
            raise ActionRefused("The transfer already has that name; nothing was sent.", status=409)

    guard()
    outcome = perform(
        connection=transfer.connection,
        actor=actor,
        request=request,
        action="transfer.rename",
        resource=transfer.transfer_id,
        key=resource_key("transfer", transfer.transfer_id),
        operation="UpdateResponsibilityTransfer",
        params={"Id": transfer.transfer_id, "Name": name},
        audit_params={"Id": transfer.transfer_id, "Name": name, "PreviousName": transfer.name},
        guard=guard,
        apply=lambda data: apply_transfer(transfer=transfer, data=data["ResponsibilityTransfer"]),
        resync=lambda: resync_transfer(transfer),
    )
    result: ResponsibilityTransfer = outcome.result
    return result


def transfer_terminate(
    *, transfer: ResponsibilityTransfer, actor: Any, end_at: datetime, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """End an accepted transfer at the close of this or next month (TerminateResponsibilityTransfer).
    Cannot be undone. Admin role."""
    _require(actor, transfer.connection, Role.ADMIN)
    if end_at not in end_choices():
        raise ActionRefused(
            "A billing transfer ends at 23:59:59 UTC on the last day of this month or of next month.", status=422
        )

    def guard() -> None:
        transfer.refresh_from_db()
        if transfer.status != "ACCEPTED":
            raise ActionRefused(
                f"This billing transfer is {transfer.status.lower()}; only an accepted transfer can be ended.",
                status=409,
            )

    guard()
    outcome = perform(
        connection=transfer.connection,
        actor=actor,
        request=request,
        action="transfer.terminate",
        resource=transfer.transfer_id,
        key=resource_key("transfer", transfer.transfer_id),
        operation="TerminateResponsibilityTransfer",
        params={"Id": transfer.transfer_id, "EndTimestamp": end_at},
        audit_params={"Id": transfer.transfer_id, "EndTimestamp": end_at.isoformat()},
        guard=guard,
        apply=lambda data: apply_transfer(transfer=transfer, data=data["ResponsibilityTransfer"]),
        resync=lambda: resync_transfer(transfer),
    )
    result: ResponsibilityTransfer = outcome.result
    return result
