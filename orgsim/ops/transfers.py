"""Billing (responsibility) transfers: invite, accept rules, describe, list both sides, rename, terminate.

The payer sends the invitation and is the transfer's Target (it sees the transfer Inbound); the
invited organization is its Source (Outbound). The transfer's status follows its handshake
(``state.close_handshake``) until a side terminates it:

    REQUESTED --accept--> ACCEPTED --terminate (either side)--> WITHDRAWN (ends at EndTimestamp)
              --decline/cancel/expiry--> DECLINED / CANCELED / EXPIRED
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, constraint_violation, invalid_input
from orgsim.model import parse_timestamp
from orgsim.ops.handshakes import ON_ACCEPT, between, new_handshake, resolve_target
from orgsim.ops.organizations import require_all_features
from orgsim.registry import Call, operation
from orgsim.state import DAY, HANDSHAKE_TO_TRANSFER, Handshake, Organization, State, Transfer

INVITATION_LIFETIME = 15 * DAY  # AWS documents no fixed expiry; orgsim picks INVITE's 15 days
ACCEPT_LEAD = DAY  # an invitation must be accepted at least 24 hours before the transfer starts
START_HORIZON = 366 * DAY  # undocumented upper bound on how far ahead a start may be


def month_start(ts: float, months_ahead: int = 0) -> float:
    moment = datetime.fromtimestamp(ts, UTC)
    index = moment.year * 12 + moment.month - 1 + months_ahead
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp()


def month_end(ts: float, months_ahead: int = 0) -> float:
    """23:59:59 UTC on the last day of the month `months_ahead` after the one holding `ts`."""
    return month_start(ts, months_ahead + 1) - 1


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_start(start: float, now: float) -> None:
    moment = datetime.fromtimestamp(start, UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise invalid_input("START_DATE_NOT_BEGINNING_OF_DAY", "A transfer starts at 00:00 UTC.")
    if moment.day != 1:
        raise invalid_input("START_DATE_NOT_BEGINNING_OF_MONTH", "A transfer starts on the first day of a month.")
    if start - ACCEPT_LEAD < now:
        raise invalid_input("START_DATE_TOO_EARLY", "The start must leave at least 24 hours to accept the invitation.")
    if start > now + START_HORIZON:
        raise invalid_input("START_DATE_TOO_LATE", "The start is too far in the future.")


def check_quotas(
    state: State, *, payer: Organization, source: Organization, start: float, now: float, inviting: bool
) -> None:
    """The quota and chain rules, checked when inviting and again when accepting."""
    payer_key = payer.management_account_id
    if inviting:
        inbound = sum(
            1 for t in state.transfers_of("inbound", payer.id) if t.status == "REQUESTED" or t.in_force_at(now)
        )
        if inbound >= state.quota(payer_key, "inbound"):
            raise constraint_violation(
                "RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION",
                "The payer has reached its quota of inbound transfers.",
            )
    outbound = sum(
        1
        for t in state.transfers_of("outbound", source.id)
        if t.in_force_at(now) and (t.end_ts is None or t.end_ts > start)
    )
    if outbound >= state.quota(source.management_account_id, "outbound"):
        raise constraint_violation(
            "RESPONSIBILITY_TRANSFER_MAX_OUTBOUND_QUOTA_VIOLATION",
            "The invited organization already has its bills paid by another organization.",
        )
    if state.levels_above(payer.id, now) + 1 + state.levels_below(source.id, now) > state.quota(payer_key, "chain"):
        raise constraint_violation(
            "RESPONSIBILITY_TRANSFER_MAX_LEVEL_VIOLATION", "The transfer would make a chain longer than allowed."
        )
    if state.transfers_below(payer.id, now) + 1 + state.transfers_below(source.id, now) > state.quota(
        payer_key, "chain_transfers"
    ):
        raise constraint_violation(
            "RESPONSIBILITY_TRANSFER_MAX_TRANSFERS_QUOTA_VIOLATION", "Too many transfers across the chain."
        )


@operation("InviteOrganizationToTransferResponsibility")
def invite_organization_to_transfer_responsibility(call: Call) -> dict[str, Any]:
    state = call.state
    payer = call.managed_org()
    params = call.params
    start = parse_timestamp(params["StartTimestamp"], "StartTimestamp")
    target = params["Target"]
    invited = resolve_target(call, target)
    if invited.id == call.caller_id or invited.org_id == payer.id:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "An organization can't transfer responsibility to itself.",
            reason="SOURCE_AND_TARGET_CANNOT_MATCH",
        )
    check_start(start, call.now)
    require_all_features(payer)
    source = state.orgs.get(invited.org_id or "")
    if source is None or source.management_account_id != invited.id:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "The invited account must be the management account of an organization.",
            reason="TARGET_ACCOUNT_VALIDATION_FAILURE",
        )
    require_all_features(source)
    for existing in state.transfers_of("inbound", payer.id):
        if existing.source_org_id != source.id:
            continue
        if existing.status == "REQUESTED":
            raise ApiError(
                "DuplicateHandshakeException", "An open transfer invitation for this organization already exists."
            )
        if existing.status == "ACCEPTED":
            raise ApiError(
                "HandshakeConstraintViolationException",
                "A transfer between these organizations already exists.",
                reason="RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
            )
    check_quotas(state, payer=payer, source=source, start=start, now=call.now, inviting=True)
    transfer, handshake = create_transfer(
        state,
        payer=payer,
        source=source,
        name=params["SourceName"],
        start=start,
        now=call.now,
        notes=params.get("Notes"),
        target=target,
    )
    state.tag(transfer.id, params.get("Tags"))
    return {"Handshake": handshake.to_api()}


def create_transfer(
    state: State,
    *,
    payer: Organization,
    source: Organization,
    name: str,
    start: float,
    now: float,
    notes: str | None = None,
    target: dict[str, str] | None = None,
    expires: float | None = None,
    handshake_state: str = "OPEN",
    closed_ts: float | None = None,
) -> tuple[Transfer, Handshake]:
    """A transfer and its TRANSFER_RESPONSIBILITY handshake (scenarios use this too)."""
    sender = state.management_account(payer)
    invited = state.management_account(source)
    target = target or {"Id": invited.id, "Type": "ACCOUNT"}
    transfer_id = state.new_id("rt-", 12)
    resources: list[dict[str, Any]] = [
        {"Value": transfer_id, "Type": "RESPONSIBILITY_TRANSFER"},
        {"Value": iso(start), "Type": "TRANSFER_START_TIMESTAMP"},
        {"Value": "BILLING", "Type": "TRANSFER_TYPE"},
        {"Value": sender.id, "Type": "MANAGEMENT_ACCOUNT"},
        {"Value": sender.email, "Type": "MANAGEMENT_EMAIL"},
        {"Value": sender.name, "Type": "MANAGEMENT_NAME"},
    ]
    handshake = new_handshake(
        state,
        action="TRANSFER_RESPONSIBILITY",
        org=payer,
        recipient=invited,
        parties=between(payer, target),
        resources=resources,
        notes=notes,
        now=now,
        expires=expires if expires is not None else min(now + INVITATION_LIFETIME, start - ACCEPT_LEAD),
        transfer_id=transfer_id,
        handshake_state=handshake_state,
        closed_ts=closed_ts,
    )
    transfer = Transfer(
        id=transfer_id,
        seq=handshake.seq,
        name=name,
        status="REQUESTED",
        source_org_id=source.id,
        source_account_id=invited.id,
        source_email=invited.email,
        target_org_id=payer.id,
        target_account_id=sender.id,
        target_email=sender.email,
        start_ts=start,
        handshake_id=handshake.id,
    )
    state.add_transfer(transfer)
    transfer.status = HANDSHAKE_TO_TRANSFER[handshake_state]
    return transfer, handshake


def _accept_transfer(call: Call, handshake: Handshake) -> None:
    state = call.state
    transfer = state.transfers[handshake.transfer_id or ""]
    if call.now > transfer.start_ts - ACCEPT_LEAD:
        raise ApiError(
            "InvalidHandshakeTransitionException",
            "The invitation must be accepted at least 24 hours before the transfer starts.",
        )
    payer, source = state.orgs.get(transfer.target_org_id), state.orgs.get(transfer.source_org_id)
    if payer is None or source is None:
        raise ApiError("InvalidHandshakeTransitionException", "One of the organizations no longer exists.")
    require_all_features(source)
    check_quotas(state, payer=payer, source=source, start=transfer.start_ts, now=call.now, inviting=False)


ON_ACCEPT["TRANSFER_RESPONSIBILITY"] = _accept_transfer


def _get(call: Call, org: Organization) -> Transfer:
    transfer = call.state.transfers.get(call.params["Id"])
    if transfer is None or org.id not in (transfer.source_org_id, transfer.target_org_id):
        raise ApiError(
            "ResponsibilityTransferNotFoundException", "We can't find a transfer with the Id that you specified."
        )
    return transfer


@operation("DescribeResponsibilityTransfer")
def describe_responsibility_transfer(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    return {"ResponsibilityTransfer": _get(call, org).to_api(org.id)}


def _list(call: Call, kind: str) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    wanted_type = call.params["Type"]
    if call.params.get("Id"):
        transfer = _get(call, org)
        if transfer.target_org_id != org.id:
            raise ApiError(
                "ResponsibilityTransferNotFoundException",
                "We can't find an inbound transfer with the Id that you specified.",
            )
        return {"ResponsibilityTransfers": [transfer.to_api(org.id)]}

    def resolve(seq: int) -> dict[str, Any] | None:
        transfer = state.transfers_by_seq[seq]
        return transfer.to_api(org.id) if transfer.type == wanted_type else None

    items, token = paging.page(call, f"{kind}:{org.id}", resolve)
    return paging.with_token({"ResponsibilityTransfers": items}, token)


@operation("ListInboundResponsibilityTransfers")
def list_inbound_responsibility_transfers(call: Call) -> dict[str, Any]:
    return _list(call, "inbound")


@operation("ListOutboundResponsibilityTransfers")
def list_outbound_responsibility_transfers(call: Call) -> dict[str, Any]:
    return _list(call, "outbound")


@operation("UpdateResponsibilityTransfer")
def update_responsibility_transfer(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    transfer = _get(call, org)
    if transfer.status not in ("REQUESTED", "ACCEPTED"):
        raise constraint_violation(
            "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED", f"A {transfer.status} transfer can't be changed."
        )
    transfer.name = call.params["Name"]
    call.state.dirty = True
    return {"ResponsibilityTransfer": transfer.to_api(org.id)}


@operation("TerminateResponsibilityTransfer")
def terminate_responsibility_transfer(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    transfer = _get(call, org)
    if transfer.status == "WITHDRAWN":
        raise ApiError("ResponsibilityTransferAlreadyInStatusException", "The transfer is already WITHDRAWN.")
    if transfer.status != "ACCEPTED":
        raise ApiError(
            "InvalidResponsibilityTransferTransitionException", f"A {transfer.status} transfer can't be terminated."
        )
    this_month, next_month = month_end(call.now), month_end(call.now, 1)
    raw_end = call.params.get("EndTimestamp")
    end = this_month if raw_end is None else parse_timestamp(raw_end, "EndTimestamp")
    if (
        int(end) != end
        or calendar.monthrange(*_year_month(end))[1] != datetime.fromtimestamp(end, UTC).day
        or datetime.fromtimestamp(end, UTC).strftime("%H:%M:%S") != "23:59:59"
    ):
        raise invalid_input("END_DATE_NOT_END_OF_MONTH", "A transfer ends at 23:59:59 UTC on the last day of a month.")
    if end < this_month:
        raise invalid_input("END_DATE_TOO_EARLY", "The end must be the end of the current month or of the next one.")
    if end > next_month:
        raise invalid_input("END_DATE_TOO_LATE", "The end must be the end of the current month or of the next one.")
    transfer.status = "WITHDRAWN"
    transfer.end_ts = end
    call.state.dirty = True
    return {"ResponsibilityTransfer": transfer.to_api(org.id)}


def _year_month(ts: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.year, moment.month
