"""Billing transfers, AWS -> rows: ListInboundResponsibilityTransfers and
ListOutboundResponsibilityTransfers (Type BILLING) mapped onto ResponsibilityTransfer.

The generic engine in `orgportal.sync` does the upsert, history, vanishing and audit; this room
only says how one AWS transfer becomes row fields.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from orgportal.models import AwsConnection, SyncRun
from orgportal.registry import ListCall
from orgportal.sync import Counts, Mirror, Upsert, sync_list

from .models import Direction, ResponsibilityTransfer, TransferChange

TRANSFER = Mirror(
    kind="transfer",
    model=ResponsibilityTransfer,
    key_field="transfer_id",
    fields=(
        "transfer_id",
        "direction",
        "arn",
        "name",
        "type",
        "status",
        "source_account_id",
        "source_email",
        "target_account_id",
        "target_email",
        "start_at",
        "end_at",
        "active_handshake_id",
    ),
    change_model=TransferChange,
    change_fk="transfer",
)

# Which list shows a transfer says which side this connection is on (see BILLING-TRANSFER.md):
# the payer is the Target and sees it as inbound; the paid-for organization sees it as outbound.
LISTS = (
    ("ListInboundResponsibilityTransfers", Direction.INBOUND),
    ("ListOutboundResponsibilityTransfers", Direction.OUTBOUND),
)


def transfer_row(item: dict[str, Any], direction: str) -> dict[str, Any]:
    source = item.get("Source") or {}
    target = item.get("Target") or {}
    return {
        "transfer_id": item["Id"],
        "direction": direction,
        "arn": item.get("Arn", ""),
        "name": item.get("Name", ""),
        "type": item.get("Type", "BILLING"),
        "status": item.get("Status", ""),
        "source_account_id": source.get("ManagementAccountId", ""),
        "source_email": source.get("ManagementAccountEmail", ""),
        "target_account_id": target.get("ManagementAccountId", ""),
        "target_email": target.get("ManagementAccountEmail", ""),
        "start_at": item.get("StartTimestamp"),
        "end_at": item.get("EndTimestamp"),
        "active_handshake_id": item.get("ActiveHandshakeId", ""),
    }


def transfer_lists(connection: AwsConnection) -> list[ListCall]:
    """The list calls that show a connection's transfers (the same for every connection)."""
    return [(operation, "ResponsibilityTransfers", {"Type": "BILLING"}) for operation, _ in LISTS]


def sync_transfers(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    upsert = Upsert(TRANSFER, connection, run, counts)
    for operation, direction in LISTS:
        sync_list(
            upsert,
            client,
            operation,
            "ResponsibilityTransfers",
            partial(transfer_row, direction=direction),
            Type="BILLING",
        )
    upsert.finish()
