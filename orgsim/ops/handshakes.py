"""Handshakes: invitations of every action type, and their accept/decline/cancel/describe/list.

The accept effect of each action type lives in ``ON_ACCEPT`` (INVITE here; ENABLE_ALL_FEATURES
in ``organizations``; TRANSFER_RESPONSIBILITY in ``transfers``), so who-may-act and the state
edges are written once for all of them:

    OPEN/REQUESTED --accept (recipient)--> ACCEPTED
                   --decline (recipient)-> DECLINED
                   --cancel (sender)-----> CANCELED
                   --clock passes ExpirationTimestamp--> EXPIRED
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, access_denied, invalid_input
from orgsim.model import matches
from orgsim.registry import Call, operation
from orgsim.state import DAY, Account, Handshake, Organization, State

# How long an invitation stays open, by action (BILLING-TRANSFER.md; TRANSFER_RESPONSIBILITY sets its own).
EXPIRY = {
    "INVITE": 15 * DAY,
    "ENABLE_ALL_FEATURES": 90 * DAY,
    "APPROVE_ALL_FEATURES": 90 * DAY,
    "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE": 15 * DAY,
}

# action -> (call, handshake) -> None: re-check and apply what accepting means for that action.
ON_ACCEPT: dict[str, Callable[[Call, Handshake], None]] = {}


def org_resource(state: State, org: Organization) -> dict[str, Any]:
    management = state.management_account(org)
    return {
        "Value": org.id,
        "Type": "ORGANIZATION",
        "Resources": [
            {"Value": management.email, "Type": "MASTER_EMAIL"},
            {"Value": management.name, "Type": "MASTER_NAME"},
            {
                "Value": "FULL" if org.feature_set == "ALL" else "CONSOLIDATED_BILLING",
                "Type": "ORGANIZATION_FEATURE_SET",
            },
        ],
    }


def new_handshake(
    state: State,
    *,
    action: str,
    org: Organization,
    recipient: Account | None,
    parties: list[dict[str, str]],
    resources: list[dict[str, Any]],
    now: float,
    notes: str | None = None,
    expires: float | None = None,
    parent_id: str | None = None,
    transfer_id: str | None = None,
    handshake_state: str = "OPEN",
    closed_ts: float | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Handshake:
    handshake = Handshake(
        id=state.new_id("h-", 12),
        seq=state.next_seq(),
        action=action,
        state=handshake_state,
        org_id=org.id,
        owner_account_id=org.management_account_id,
        requested_ts=now,
        expiration_ts=expires if expires is not None else now + EXPIRY.get(action, 15 * DAY),
        parties=parties,
        # An invitation's notes are one more resource, after the ones of its kind.
        resources=[*resources, {"Value": notes, "Type": "NOTES"}] if notes else resources,
        recipient_account_id=recipient.id if recipient else None,
        parent_id=parent_id,
        transfer_id=transfer_id,
        closed_ts=closed_ts,
        tags=list(tags or []),
    )
    return state.add_handshake(handshake)


def between(org: Organization, target: dict[str, str]) -> list[dict[str, str]]:
    """An invitation's parties: the organization that sends it and the target as the caller named it."""
    return [{"Id": org.id, "Type": "ORGANIZATION"}, {"Id": target["Id"], "Type": target["Type"]}]


def resolve_target(call: Call, target: dict[str, str]) -> Account:
    """The account a HandshakeParty target names (ACCOUNT id or EMAIL); other types are refused."""
    kind, value = target["Type"], target["Id"]
    if kind == "ACCOUNT":
        if not matches("AccountId", value):
            raise invalid_input("INVALID_PATTERN_TARGET_ID", "The target account id must be 12 digits.")
        return call.state.account(value)
    if kind == "EMAIL":
        if not matches("Email", value):
            raise invalid_input("INVALID_EMAIL_ADDRESS_TARGET", "The target is not a valid email address.")
        found = call.state.account_by_email(value)
        if found is None:
            # An email orgsim has not seen is a new standalone AWS account with that root email.
            found = call.state.account(call.state.new_account_id())
            found.email = value
        return found
    raise invalid_input("INVALID_PARTY_TYPE_TARGET", f"A handshake target of type {kind} is not supported here.")


def visible_to(state: State, handshake: Handshake, caller_id: str) -> bool:
    if caller_id in (handshake.recipient_account_id, handshake.owner_account_id):
        return True
    caller = state.accounts.get(caller_id)
    if caller is None or caller.org_id is None:
        return False
    org = state.orgs[caller.org_id]
    return org.management_account_id == caller_id and f"org:{org.id}" in handshake.index_keys


def get_handshake(call: Call) -> Handshake:
    handshake = call.state.handshakes.get(call.params["HandshakeId"])
    if handshake is None or not visible_to(call.state, handshake, call.caller_id):
        raise ApiError(
            "HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified."
        )
    return handshake


def _transition(handshake: Handshake, target: str) -> None:
    if handshake.state == target:
        raise ApiError(
            "HandshakeAlreadyInStateException", f"The handshake is already in the requested state: {target}."
        )
    if not handshake.is_open:
        raise ApiError(
            "InvalidHandshakeTransitionException", f"You can't move a handshake from {handshake.state} to {target}."
        )


def _answer(handshake: Handshake) -> dict[str, Any]:
    return {"Handshake": handshake.to_api()}


def _closed(call: Call, handshake: Handshake, state: str) -> dict[str, Any]:
    call.state.close_handshake(handshake, state, call.now)
    return _answer(handshake)


def _answerable(call: Call, target: str) -> Handshake:
    """The handshake this call moves to `target`, once it is open and the caller may: its recipient
    accepts or declines it, its sender cancels it."""
    handshake = get_handshake(call)
    _transition(handshake, target)
    if target != "CANCELED":
        party, did, verb = handshake.recipient_account_id, "received", "accept" if target == "ACCEPTED" else "decline"
    else:
        party, did, verb = handshake.owner_account_id, "sent", "cancel"
    if call.caller_id != party:
        raise access_denied(f"Only the account that {did} this handshake can {verb} it.")
    return handshake


@operation("AcceptHandshake")
def accept_handshake(call: Call) -> dict[str, Any]:
    handshake = _answerable(call, "ACCEPTED")
    effect = ON_ACCEPT.get(handshake.action)
    if effect is not None:
        effect(call, handshake)
    return _closed(call, handshake, "ACCEPTED")


@operation("DeclineHandshake")
def decline_handshake(call: Call) -> dict[str, Any]:
    handshake = _answerable(call, "DECLINED")
    call.state.close_handshake(handshake, "DECLINED", call.now)
    if handshake.action == "APPROVE_ALL_FEATURES" and handshake.parent_id in call.state.handshakes:
        # One member saying no ends the whole switch to all features.
        parent = call.state.handshakes[handshake.parent_id]
        if parent.is_open:
            call.state.close_handshake(parent, "CANCELED", call.now)
    return _answer(handshake)


@operation("CancelHandshake")
def cancel_handshake(call: Call) -> dict[str, Any]:
    return _closed(call, _answerable(call, "CANCELED"), "CANCELED")


@operation("DescribeHandshake")
def describe_handshake(call: Call) -> dict[str, Any]:
    return _answer(get_handshake(call))


def _list(call: Call, scope: str) -> dict[str, Any]:
    state = call.state
    flt = call.params.get("Filter") or {}
    action, parent = flt.get("ActionType"), flt.get("ParentHandshakeId")
    if action and parent:
        raise invalid_input(
            "MAX_LIMIT_EXCEEDED_FILTER", "Specify either ActionType or ParentHandshakeId in the filter, not both."
        )
    index = f"{scope}:{action}" if action else scope
    scope_key = scope

    def resolve(seq: int) -> dict[str, Any] | None:
        handshake = state.handshakes_by_seq.get(seq)
        if handshake is None:
            return None
        if parent and handshake.parent_id != parent:
            return None
        return handshake.to_api()

    if parent:
        # Children of one parent are few: page the parent's own index and keep those in scope.
        index = f"parent:{parent}"

        def resolve(seq: int) -> dict[str, Any] | None:
            handshake = state.handshakes_by_seq.get(seq)
            return handshake.to_api() if handshake and scope_key in handshake.index_keys else None

    items, token = paging.page(call, index, resolve)
    return paging.with_token({"Handshakes": items}, token)


@operation("ListHandshakesForAccount")
def list_handshakes_for_account(call: Call) -> dict[str, Any]:
    return _list(call, f"acct:{call.caller_id}")


@operation("ListHandshakesForOrganization")
def list_handshakes_for_organization(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    return _list(call, f"org:{org.id}")


# --- INVITE ----------------------------------------------------------------------------------


@operation("InviteAccountToOrganization")
def invite_account_to_organization(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    target = call.params["Target"]
    state = call.state
    if org.pending_all_features:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "You can't invite accounts while the organization is switching to all features.",
            reason="INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES",
        )
    account = resolve_target(call, target)
    if account.org_id == org.id:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "The account is already a member of this organization.",
            reason="ALREADY_IN_AN_ORGANIZATION",
        )
    _refuse_management_account(state, account)
    for seq in state.index.lists.get(f"acct:{account.id}:INVITE", []):
        other = state.handshakes_by_seq.get(seq)
        if other is not None and other.is_open and other.org_id == org.id:
            raise ApiError(
                "DuplicateHandshakeException",
                "An open invitation for this account from this organization already exists.",
            )
    resources: list[dict[str, Any]] = [
        org_resource(state, org),
        {"Value": account.id if target["Type"] == "ACCOUNT" else target["Id"], "Type": target["Type"]},
    ]
    handshake = new_handshake(
        state,
        action="INVITE",
        org=org,
        recipient=account,
        parties=between(org, target),
        resources=resources,
        notes=call.params.get("Notes"),
        now=call.now,
        tags=call.params.get("Tags"),
    )
    return _answer(handshake)


def _refuse_management_account(state: State, account: Account) -> None:
    if account.org_id and state.orgs[account.org_id].management_account_id == account.id:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "The account is the management account of another organization and can't join one.",
            reason="ALREADY_IN_AN_ORGANIZATION",
        )


def _accept_invite(call: Call, handshake: Handshake) -> None:
    state = call.state
    org = state.orgs.get(handshake.org_id)
    if org is None:
        raise ApiError(
            "InvalidHandshakeTransitionException", "The organization that sent this invitation no longer exists."
        )
    account = call.caller
    _refuse_management_account(state, account)
    # An account in another organization moves directly (the release notes' "transfer between organizations").
    state.join(account, org, "INVITED", call.now)
    state.tag(account.id, handshake.tags)


def _accept_simple(call: Call, handshake: Handshake) -> None:
    """APPROVE_ALL_FEATURES and ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE: agreeing is the whole effect."""


ON_ACCEPT["INVITE"] = _accept_invite
ON_ACCEPT["APPROVE_ALL_FEATURES"] = _accept_simple
ON_ACCEPT["ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE"] = _accept_simple
