"""Organizations, roots, OUs and accounts: create/describe/delete, all features, the tree, membership."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, constraint_violation
from orgsim.model import model_error
from orgsim.ops.handshakes import ON_ACCEPT, new_handshake, org_resource
from orgsim.registry import Call, operation
from orgsim.state import Account, Handshake, Organization, OrganizationalUnit

OU_MAX_DEPTH = 5  # AWS: an OU tree is at most five levels below the root


@operation("CreateOrganization")
def create_organization(call: Call) -> dict[str, Any]:
    caller = call.caller
    if caller.org_id is not None:
        raise ApiError("AlreadyInOrganizationException", "This account is already a member of an organization.")
    org = call.state.create_organization(caller, call.params.get("FeatureSet") or "ALL", call.now)
    return {"Organization": call.state.org_to_api(org)}


@operation("DescribeOrganization")
def describe_organization(call: Call) -> dict[str, Any]:
    return {"Organization": call.state.org_to_api(call.org())}


@operation("DeleteOrganization")
def delete_organization(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    if state.index.count(f"accounts:{org.id}") > 1:
        raise model_error("OrganizationNotEmptyException")
    if any(
        t.in_force_at(call.now) or t.status == "REQUESTED"
        for kind in ("inbound", "outbound")
        for t in state.transfers_of(kind, org.id)
    ):
        raise constraint_violation(
            "ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS", "The organization takes part in a billing transfer."
        )
    state.delete_org(org)
    return {}


@operation("EnableAllFeatures")
def enable_all_features(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    if org.feature_set == "ALL":
        raise ApiError(
            "HandshakeConstraintViolationException",
            "The organization already has all features.",
            reason="ORGANIZATION_ALREADY_HAS_ALL_FEATURES",
        )
    if org.pending_all_features:
        raise ApiError(
            "HandshakeConstraintViolationException",
            "The organization is already switching to all features.",
            reason="ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
        )
    management = state.management_account(org)
    parent = new_handshake(
        state,
        action="ENABLE_ALL_FEATURES",
        org=org,
        recipient=management,
        parties=[{"Id": org.id, "Type": "ORGANIZATION"}],
        resources=[org_resource(state, org)],
        now=call.now,
    )
    org.pending_all_features = parent.id
    for account_id in list(state.index.lists.get(f"accounts:{org.id}", [])):
        if account_id == management.id:
            continue
        new_handshake(
            state,
            action="APPROVE_ALL_FEATURES",
            org=org,
            recipient=state.accounts[account_id],
            parties=[{"Id": org.id, "Type": "ORGANIZATION"}, {"Id": account_id, "Type": "ACCOUNT"}],
            resources=[org_resource(state, org), {"Value": parent.id, "Type": "PARENT_HANDSHAKE"}],
            now=call.now,
            expires=parent.expiration_ts,
            parent_id=parent.id,
        )
    return {"Handshake": parent.to_api()}


def _accept_enable_all_features(call: Call, handshake: Handshake) -> None:
    waiting = [child.id for child in call.state.children_of(handshake.id) if child.state != "ACCEPTED"]
    if waiting:
        raise ApiError(
            "InvalidHandshakeTransitionException",
            f"Every member must approve first; still waiting for {len(waiting)} APPROVE_ALL_FEATURES handshake(s).",
        )
    org = call.state.orgs[handshake.org_id]
    org.feature_set = "ALL"


ON_ACCEPT["ENABLE_ALL_FEATURES"] = _accept_enable_all_features


@operation("ListRoots")
def list_roots(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    root = call.state.roots[org.root_id]
    return {"Roots": [call.state.root_to_api(root)]}


# --- accounts -------------------------------------------------------------------------------


@operation("ListAccounts")
def list_accounts(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    items, token = paging.page(call, f"accounts:{org.id}", lambda key: state.account_to_api(state.accounts[key]))
    return paging.with_token({"Accounts": items}, token)


def member_of(call: Call, org: Organization, account_id: str) -> Account:
    account = call.state.accounts.get(account_id)
    if account is None or account.org_id != org.id:
        raise model_error("AccountNotFoundException")
    return account


def _refuse_delegated_admin(org: Organization, account: Account) -> None:
    if account.id in org.delegated_admins:
        raise constraint_violation(
            "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
            "The account is a delegated administrator; deregister it first.",
        )


@operation("DescribeAccount")
def describe_account(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    return {"Account": call.state.account_to_api(member_of(call, org, call.params["AccountId"]))}


@operation("RemoveAccountFromOrganization")
def remove_account_from_organization(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    account = member_of(call, org, call.params["AccountId"])
    if account.id == org.management_account_id:
        raise ApiError(
            "MasterCannotLeaveOrganizationException",
            "The management account can't be removed; delete the organization instead.",
        )
    _refuse_delegated_admin(org, account)
    call.state.leave(account)
    return {}


@operation("LeaveOrganization")
def leave_organization(call: Call) -> dict[str, Any]:
    org = call.org()
    if org.management_account_id == call.caller_id:
        raise ApiError(
            "MasterCannotLeaveOrganizationException",
            "The management account can't leave; delete the organization instead.",
        )
    _refuse_delegated_admin(org, call.caller)
    call.state.leave(call.caller)
    return {}


# --- the tree -------------------------------------------------------------------------------


def _parent(call: Call, org: Organization, parent_id: str, error: str = "ParentNotFoundException") -> str:
    state = call.state
    if parent_id == org.root_id or (parent_id in state.ous and state.ous[parent_id].org_id == org.id):
        return parent_id
    raise model_error(error)


def _depth(call: Call, node: str) -> int:
    depth = 0
    while node.startswith("ou-"):
        depth += 1
        node = call.state.ous[node].parent_id
    return depth


@operation("CreateOrganizationalUnit")
def create_organizational_unit(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    parent_id = _parent(call, org, call.params["ParentId"])
    name = call.params["Name"]
    _refuse_sibling_name(call, parent_id, name)
    if _depth(call, parent_id) >= OU_MAX_DEPTH:
        raise constraint_violation("OU_DEPTH_LIMIT_EXCEEDED", "OUs can be nested at most five levels deep.")
    ou = state.create_ou(org, parent_id, name)
    state.tag(ou.id, call.params.get("Tags"))
    return {"OrganizationalUnit": state.ou_to_api(ou)}


def _ou(call: Call) -> OrganizationalUnit:
    org = call.managed_org()
    ou = call.state.ous.get(call.params["OrganizationalUnitId"])
    if ou is None or ou.org_id != org.id:
        raise model_error("OrganizationalUnitNotFoundException")
    return ou


def _refuse_sibling_name(call: Call, parent_id: str, name: str) -> None:
    state = call.state
    for ou_id in state.index.lists.get(f"children:{parent_id}:ORGANIZATIONAL_UNIT", []):
        if state.ous[ou_id].name == name:
            raise model_error("DuplicateOrganizationalUnitException")


@operation("DescribeOrganizationalUnit")
def describe_organizational_unit(call: Call) -> dict[str, Any]:
    return {"OrganizationalUnit": call.state.ou_to_api(_ou(call))}


@operation("UpdateOrganizationalUnit")
def update_organizational_unit(call: Call) -> dict[str, Any]:
    ou = _ou(call)
    name = call.params.get("Name")
    if name is not None and name != ou.name:
        _refuse_sibling_name(call, ou.parent_id, name)
        ou.name = name
        call.state.dirty = True
    return {"OrganizationalUnit": call.state.ou_to_api(ou)}


@operation("DeleteOrganizationalUnit")
def delete_organizational_unit(call: Call) -> dict[str, Any]:
    ou = _ou(call)
    state = call.state
    if state.index.count(f"children:{ou.id}:ACCOUNT") or state.index.count(f"children:{ou.id}:ORGANIZATIONAL_UNIT"):
        raise model_error("OrganizationalUnitNotEmptyException")
    state.delete_ou(ou)
    return {}


def _children(call: Call, child_type: str, to_api: Callable[[str], dict[str, Any]]) -> tuple[list[Any], str | None]:
    """One page of the children of one type of `ParentId`, a parent in the caller's organization."""
    parent_id = _parent(call, call.managed_org(), call.params["ParentId"])
    return paging.page(call, f"children:{parent_id}:{child_type}", to_api)


@operation("ListOrganizationalUnitsForParent")
def list_organizational_units_for_parent(call: Call) -> dict[str, Any]:
    state = call.state
    items, token = _children(call, "ORGANIZATIONAL_UNIT", lambda key: state.ou_to_api(state.ous[key]))
    return paging.with_token({"OrganizationalUnits": items}, token)


@operation("ListAccountsForParent")
def list_accounts_for_parent(call: Call) -> dict[str, Any]:
    state = call.state
    items, token = _children(call, "ACCOUNT", lambda key: state.account_to_api(state.accounts[key]))
    return paging.with_token({"Accounts": items}, token)


@operation("ListChildren")
def list_children(call: Call) -> dict[str, Any]:
    child_type = call.params["ChildType"]
    items, token = _children(call, child_type, lambda key: {"Id": key, "Type": child_type})
    return paging.with_token({"Children": items}, token)


@operation("ListParents")
def list_parents(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    child_id = call.params["ChildId"]
    account = state.accounts.get(child_id)
    ou = state.ous.get(child_id)
    if account is not None and account.org_id == org.id and account.parent_id:
        parent_id = account.parent_id
    elif ou is not None and ou.org_id == org.id:
        parent_id = ou.parent_id
    else:
        raise model_error("ChildNotFoundException")
    if call.params.get("NextToken"):
        paging.decode(call.params["NextToken"], call.operation, "parents")  # a single page: any token is stale
    parent_type = "ORGANIZATIONAL_UNIT" if parent_id.startswith("ou-") else "ROOT"
    return {"Parents": [{"Id": parent_id, "Type": parent_type}]}


@operation("MoveAccount")
def move_account(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    account = member_of(call, org, call.params["AccountId"])
    source = _parent(call, org, call.params["SourceParentId"], "SourceParentNotFoundException")
    destination = _parent(call, org, call.params["DestinationParentId"], "DestinationParentNotFoundException")
    if account.parent_id != source:
        raise model_error("SourceParentNotFoundException")
    if source == destination:
        raise model_error("DuplicateAccountException")
    state.move(account, destination)
    return {}


def require_all_features(org: Organization) -> None:
    if org.feature_set != "ALL":
        raise constraint_violation(
            "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE", "The organization must have all features enabled."
        )
