"""Handshakes, AWS -> rows: ListHandshakesForAccount and (for management accounts)
ListHandshakesForOrganization, merged by id, mapped onto Handshake.

The generic engine in `orgportal.sync` does the upsert, history, vanishing and audit; this room
says how one AWS handshake becomes row fields, including what pages filter on: the direction,
the other party, and the transfer it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from orgportal.models import AwsConnection, SyncRun
from orgportal.registry import ListCall
from orgportal.sync import Counts, Mirror, Upsert, sync_list

from .models import Direction, Handshake, HandshakeChange

HANDSHAKE = Mirror(
    kind="handshake",
    model=Handshake,
    key_field="handshake_id",
    fields=(
        "handshake_id",
        "arn",
        "action",
        "state",
        "requested_at",
        "expires_at",
        "parties",
        "resources",
        "direction",
        "counterparty",
        "transfer_id",
        "transfer_start_at",
    ),
    change_model=HandshakeChange,
    change_fk="handshake",
)


def walk(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every resource of a handshake, nested ones included."""
    for resource in resources or []:
        yield resource
        yield from walk(resource.get("Resources") or [])


def parse_timestamp(value: Any) -> datetime | None:
    """TRANSFER_START_TIMESTAMP is a string: epoch seconds or ISO 8601."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _same_org(party_id: str, organization_id: str) -> bool:
    # Parties name organizations without the "o-" prefix.
    return bool(organization_id) and party_id.removeprefix("o-") == organization_id.removeprefix("o-")


def derive(parties: list[dict[str, Any]], resources: list[dict[str, Any]], connection: AwsConnection) -> dict[str, Any]:
    """Direction, counterparty, transfer id and start from a handshake's parties and resources."""
    ours = {
        value for value in (connection.account_id, connection.account_email, connection.management_account_id) if value
    }
    sent = any(
        p.get("Type") == "ORGANIZATION" and _same_org(p.get("Id", ""), connection.organization_id) for p in parties
    )
    if not sent and not any(p.get("Id") in ours for p in parties):
        # Neither side is recognisably us (identity not known yet): handshakes listed for an
        # organization are ones it sent.
        sent = True
    if sent:
        others = [p for p in parties if p.get("Type") != "ORGANIZATION" and p.get("Id") not in ours]
    else:
        others = [
            p for p in parties if p.get("Id") not in ours and not _same_org(p.get("Id", ""), connection.organization_id)
        ]
    by_type: dict[str, str] = {}
    for resource in walk(resources):
        by_type.setdefault(resource.get("Type", ""), resource.get("Value", ""))
    counterparty = others[0].get("Id", "") if others else ""
    if not sent and by_type.get("MANAGEMENT_ACCOUNT"):
        counterparty = by_type["MANAGEMENT_ACCOUNT"]  # the sender's management account names it best
    return {
        "direction": Direction.SENT if sent else Direction.RECEIVED,
        "counterparty": counterparty,
        "transfer_id": by_type.get("RESPONSIBILITY_TRANSFER", ""),
        "transfer_start_at": parse_timestamp(by_type.get("TRANSFER_START_TIMESTAMP")),
    }


def handshake_row(item: dict[str, Any], connection: AwsConnection) -> dict[str, Any]:
    parties = item.get("Parties") or []
    resources = item.get("Resources") or []
    return {
        "handshake_id": item["Id"],
        "arn": item.get("Arn", ""),
        "action": item.get("Action", ""),
        "state": item.get("State", ""),
        "requested_at": item.get("RequestedTimestamp"),
        "expires_at": item.get("ExpirationTimestamp"),
        "parties": parties,
        "resources": resources,
        **derive(parties, resources, connection),
    }


def handshake_lists(connection: AwsConnection) -> list[ListCall]:
    """The list calls that show this connection's handshakes: (operation, result key, params)."""
    lists: list[ListCall] = [("ListHandshakesForAccount", "Handshakes", {})]
    if connection.is_management_account:
        lists.append(("ListHandshakesForOrganization", "Handshakes", {}))
    return lists


def sync_handshakes(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    upsert = Upsert(HANDSHAKE, connection, run, counts)

    def mapper(item: dict[str, Any]) -> dict[str, Any]:
        return handshake_row(item, connection)

    for operation, result_key, params in handshake_lists(connection):
        sync_list(upsert, client, operation, result_key, mapper, **params)
    upsert.finish()
