"""Billing-transfer actions: rename, terminate, and the dates an invitation may offer.

Each service is keyword-only and typed and reads top to bottom: the role, the state guard (the
model's rule), then under the write path's claim (`orgportal.writepath.ActionClaim`) the guard
again on the fresh row, the AWS call and the answer applied. The date rules of the API live here
too, computed in UTC: a transfer starts at 00:00 on the 1st of a month and must be accepted at
least 24 hours before (`models.accept_by`); it ends at 23:59:59 on the last day of the current or
the next month. Inviting an organization and withdrawing the invitation create and end a
handshake: they live with the handshake actions (`handshakes.services`).
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from orgportal import aws
from orgportal.models import Role
from orgportal.roles import require_role
from orgportal.writepath import ActionClaim, ActionRefused, PlannedAction, apply_to_row, pass_gates, resource_key

from .models import ResponsibilityTransfer, accept_by
from .sync import TRANSFER, transfer_row

logger = logging.getLogger(__name__)
R = TypeVar("R")

# A margin beyond the accept-by moment, so an offered month is still valid when the other side
# reads the invitation.
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
        if accept_by(start) - OFFER_MARGIN > now:
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


# --- the other side ------------------------------------------------------------------------


def other_copies(model: type[R], *, connection_id: int, **key: str) -> list[R]:
    """The cached rows of `model` with this AWS id (`key`, e.g. transfer_id=...) on connections
    other than `connection_id`: the other side of what was just acted on, where the portal holds
    it (any connection: every copy in the portal should agree, whoever reads it)."""
    return list(
        model._default_manager.filter(vanished_at__isnull=True, **key)  # type: ignore[attr-defined]
        .exclude(connection_id=connection_id)
        .select_related("connection", "connection__read_credentials")
        .order_by("pk")
    )


def refresh_copies(row: R, copies: Iterable[tuple[Callable[[Any], str], Any]]) -> R:
    """After an action's outcome, re-read each other copy of what it changed from AWS (each with
    its own connection's read credentials: a Describe call, not a sync), so the other side's
    pages agree at once instead of after its next sync. Says so on `row.other_sides_note`, which
    the action's success message carries. A copy that cannot be re-read now (its connection
    unreachable, its credentials revoked) does not undo the action: the page says when it will
    catch up."""
    copies = list(copies)
    missed = 0
    for resync, copy in copies:
        try:
            resync(copy)
        except Exception:  # the action succeeded; a courtesy re-read must never turn it into a 500
            logger.warning("could not re-read %s on connection %s", copy, copy.connection_id, exc_info=True)
            missed += 1
    note = ""
    if missed:
        minutes = max(1, settings.SYNC_INTERVAL_SECONDS // 60)
        note = (
            " The other side's copy in the portal could not be re-read from AWS just now; "
            f"it catches up at its next sync (within {minutes} min)."
        )
    elif copies:
        note = " The other side's copy in the portal was refreshed from AWS too."
    row.other_sides_note = note  # type: ignore[attr-defined]
    return row


def transfer_copies(transfer_id: str, *, connection_id: int) -> list[tuple[Callable[[Any], str], Any]]:
    """The re-reads of the other cached copies of the transfer `transfer_id`."""
    if not transfer_id:
        return []
    rows = other_copies(ResponsibilityTransfer, connection_id=connection_id, transfer_id=transfer_id)
    return [(resync_transfer, row) for row in rows]


def check_status(transfer: ResponsibilityTransfer, allowed: bool, only: str) -> None:
    """The status guard of an action on `transfer`: refuse it (409) unless `allowed`, saying what
    the status is and `only`, which transfers the action is for."""
    if not allowed:
        raise ActionRefused(f"This billing transfer is {transfer.status.lower()}; {only}.", status=409)


def transfer_rename(
    *, transfer: ResponsibilityTransfer, actor: Any, name: str, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """Give the transfer a new name (UpdateResponsibilityTransfer). Operator role."""
    require_role(actor, transfer.connection, Role.OPERATOR)

    def check() -> None:
        transfer.refresh_from_db()
        check_status(transfer, transfer.can_rename(), "only a requested or accepted one can be renamed")
        if transfer.name == name:
            raise ActionRefused("The transfer already has that name; nothing was sent.", status=409)

    check()
    previous = transfer.name
    with _claim(transfer, actor=actor, request=request, action="transfer.rename") as claim:
        check()
        data = claim.call(
            "UpdateResponsibilityTransfer",
            {"Id": transfer.transfer_id, "Name": name},
            audit={"Id": transfer.transfer_id, "Name": name, "PreviousName": previous},
        )
        renamed = apply_transfer(transfer=transfer, data=data["ResponsibilityTransfer"])
    return refresh_copies(renamed, transfer_copies(renamed.transfer_id, connection_id=renamed.connection_id))


def transfer_terminate(
    *, transfer: ResponsibilityTransfer, actor: Any, end_at: datetime, request: HttpRequest | None = None
) -> ResponsibilityTransfer:
    """End an accepted transfer at the close of this or next month (TerminateResponsibilityTransfer).
    Cannot be undone. Admin role."""
    require_role(actor, transfer.connection, Role.ADMIN)
    if end_at not in end_choices():
        raise ActionRefused(
            "A billing transfer ends at 23:59:59 UTC on the last day of this month or of next month.", status=422
        )

    def check() -> None:
        transfer.refresh_from_db()
        check_status(transfer, transfer.can_terminate(), "only an accepted transfer can be ended")

    check()
    pass_gates(
        PlannedAction(
            action="transfer.terminate",
            connection=transfer.connection,
            actor=actor,
            request=request,
            resource=transfer.transfer_id,
            operation="TerminateResponsibilityTransfer",
            params={"Id": transfer.transfer_id, "EndTimestamp": end_at},
            arguments={"transfer": transfer, "end_at": end_at},
        )
    )
    with _claim(transfer, actor=actor, request=request, action="transfer.terminate") as claim:
        check()
        data = claim.call(
            "TerminateResponsibilityTransfer",
            {"Id": transfer.transfer_id, "EndTimestamp": end_at},
            audit={"Id": transfer.transfer_id, "EndTimestamp": end_at.isoformat()},
        )
        ended = apply_transfer(transfer=transfer, data=data["ResponsibilityTransfer"])
    return refresh_copies(ended, transfer_copies(ended.transfer_id, connection_id=ended.connection_id))


def _claim(transfer: ResponsibilityTransfer, *, actor: Any, request: HttpRequest | None, action: str) -> ActionClaim:
    """The claim of an action on the transfer itself (its key, its resync)."""
    return ActionClaim(
        connection=transfer.connection,
        actor=actor,
        request=request,
        action=action,
        resource=transfer.transfer_id,
        key=resource_key("transfer", transfer.transfer_id),
        resync=lambda: resync_transfer(transfer),
    )
