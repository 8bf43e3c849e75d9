"""The policy operations: policy types on roots, policies, attachments, effective policies.

Every policy type comes from the model's ``PolicyType`` enum and every management type from
``EffectivePolicyType``, so a newer botocore (a new type) needs no code change here.

State (the ``State`` room keeps it JSON-able): ``state.policies[id]`` is a dict (org_id, name,
description, type, content, aws_managed, updated_ts); ``state.attachments[target_id]`` lists the
policy ids attached to a root, OU or account; ``state.extra["invalid_effective"]`` holds the
seeded invalid effective policies ("<account>:<type>" -> validation errors). List calls page
through indexes kept beside the state's own (``policies:<org>:<type>``, ``targets:<policy>``,
``attached:<target>``, ``invalid:<org>:<type>``), rebuilt from the state after a load.

AWS behaviour kept: only the management account manages policies; enabling SCPs attaches the
AWS-managed FullAWSAccess to the root; a target must keep at least one SCP; an attached policy
cannot be deleted; AWS-managed policies cannot be changed; content quotas per type; an
effective policy is the merge of what the root, each OU on the path and the account carry.
"""

from __future__ import annotations

import json
from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, invalid_input
from orgsim.model import enum
from orgsim.registry import Call, operation
from orgsim.state import Organization, State

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
AUTHORIZATION_TYPES = (SCP, RCP)  # IAM-style documents; no effective policy
FULL_AWS_ACCESS = "p-FullAWSAccess"
FULL_AWS_ACCESS_CONTENT = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, indent=2
)
# AWS's quotas (Organizations user guide, "Quotas"): document size in characters, attachments of
# one type per target, policies per type per organization.
CONTENT_LIMIT = {SCP: 5120, RCP: 5120, "AISERVICES_OPT_OUT_POLICY": 2500}
DEFAULT_CONTENT_LIMIT = 10000
ATTACHMENT_LIMIT = {SCP: 5, RCP: 5}
DEFAULT_ATTACHMENT_LIMIT = 10
POLICY_LIMIT = 1000
OPERATORS = ("@@assign", "@@append", "@@remove")


# --- indexes ----------------------------------------------------------------------------------


def _indexed(state: State) -> State:
    """Build the policy indexes once per State object (a loaded state file has none yet)."""
    if getattr(state, "_policy_indexes", False):
        return state
    for policy_id, policy in state.policies.items():
        for org_id in _listing_orgs(state, policy):
            state.index.add(f"policies:{org_id}:{policy['type']}", policy_id)
    for target_id, policy_ids in state.attachments.items():
        for policy_id in policy_ids:
            state.index.add(f"attached:{target_id}", policy_id)
            state.index.add(f"targets:{_org_key(state, target_id)}:{policy_id}", target_id)
    for key in state.extra.get("invalid_effective", {}):
        account_id, policy_type = key.split(":", 1)
        account = state.accounts.get(account_id)
        if account is not None and account.org_id:
            state.index.add(f"invalid:{account.org_id}:{policy_type}", account_id)
    state._policy_indexes = True  # type: ignore[attr-defined]
    return state


def _listing_orgs(state: State, policy: dict[str, Any]) -> list[str]:
    # FullAWSAccess belongs to AWS and is listed in every organization that enabled SCPs once.
    if policy.get("aws_managed"):
        return list(policy.get("listed_in", []))
    return [policy["org_id"]]


def _org_key(state: State, target_id: str) -> str:
    """The organization a target belongs to (targets of one policy are listed per organization)."""
    if target_id.startswith("r-"):
        return state.roots[target_id].org_id
    if target_id.startswith("ou-"):
        return state.ous[target_id].org_id
    return state.accounts[target_id].org_id or ""


# --- lookups ----------------------------------------------------------------------------------


def _policy(call: Call, org: Organization, policy_id: str) -> dict[str, Any]:
    policy = call.state.policies.get(policy_id)
    if policy is None or (not policy.get("aws_managed") and policy["org_id"] != org.id):
        raise ApiError("PolicyNotFoundException", f"We can't find a policy with the PolicyId {policy_id}.")
    return policy


def _target_type(call: Call, org: Organization, target_id: str) -> str:
    """ROOT / ORGANIZATIONAL_UNIT / ACCOUNT for a target of this organization; AWS's error otherwise."""
    state = call.state
    if target_id.startswith("r-"):
        if target_id in state.roots and state.roots[target_id].org_id == org.id:
            return "ROOT"
    elif target_id.startswith("ou-"):
        if target_id in state.ous and state.ous[target_id].org_id == org.id:
            return "ORGANIZATIONAL_UNIT"
    else:
        account = state.accounts.get(target_id)
        if account is not None and account.org_id == org.id:
            return "ACCOUNT"
    raise ApiError("TargetNotFoundException", f"We can't find a root, OU, or account with the TargetId {target_id}.")


def _type_status(state: State, org: Organization, policy_type: str) -> str:
    for entry in state.roots[org.root_id].policy_types:
        if entry["Type"] == policy_type:
            return entry["Status"]
    return ""


def _require_enabled(state: State, org: Organization, policy_type: str) -> None:
    if _type_status(state, org, policy_type) != "ENABLED":
        raise ApiError(
            "PolicyTypeNotEnabledException",
            f"The {policy_type} policy type is not enabled in the root of this organization.",
        )


def _require_all_features(org: Organization) -> None:
    if org.feature_set != "ALL":
        raise ApiError(
            "PolicyTypeNotAvailableForOrganizationException",
            "You can't use policies in an organization that has only consolidated billing features.",
        )


def _summary(state: State, policy: dict[str, Any]) -> dict[str, Any]:
    if policy.get("aws_managed"):
        arn = f"arn:aws:organizations::aws:policy/{policy['type'].lower()}/{policy['id']}"
    else:
        org = state.orgs[policy["org_id"]]
        arn = f"arn:aws:organizations::{org.management_account_id}:policy/{org.id}/{policy['type'].lower()}/{policy['id']}"
    return {
        "Id": policy["id"],
        "Arn": arn,
        "Name": policy["name"],
        "Description": policy["description"],
        "Type": policy["type"],
        "AwsManaged": bool(policy.get("aws_managed")),
    }


def _policy_out(state: State, policy: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": {"PolicySummary": _summary(state, policy), "Content": policy["content"]}}


def _target_out(state: State, target_id: str) -> dict[str, Any]:
    if target_id.startswith("r-"):
        root = state.roots[target_id]
        out = state.root_to_api(root)
        return {"TargetId": target_id, "Arn": out["Arn"], "Name": root.name, "Type": "ROOT"}
    if target_id.startswith("ou-"):
        ou = state.ous[target_id]
        return {
            "TargetId": target_id,
            "Arn": state.ou_to_api(ou)["Arn"],
            "Name": ou.name,
            "Type": "ORGANIZATIONAL_UNIT",
        }
    account = state.accounts[target_id]
    return {"TargetId": target_id, "Arn": state.account_to_api(account)["Arn"], "Name": account.name, "Type": "ACCOUNT"}


def _check_content(policy_type: str, content: str) -> None:
    limit = CONTENT_LIMIT.get(policy_type, DEFAULT_CONTENT_LIMIT)
    if len(content) > limit:
        raise ApiError(
            "ConstraintViolationException",
            f"The policy content exceeds the {limit}-character limit of {policy_type}.",
            reason="POLICY_CONTENT_LIMIT_EXCEEDED",
        )
    try:
        document = json.loads(content)
    except ValueError:
        raise ApiError("MalformedPolicyDocumentException", "The provided policy document is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ApiError("MalformedPolicyDocumentException", "The policy document must be a JSON object.")
    if policy_type in AUTHORIZATION_TYPES:
        if not isinstance(document.get("Statement"), list | dict):
            raise ApiError("MalformedPolicyDocumentException", "The policy document must contain a Statement.")
    elif any(key.startswith("@@") for key in document):
        raise ApiError("MalformedPolicyDocumentException", "An operator cannot be a top-level key of the policy.")


def _attach(state: State, policy_id: str, target_id: str) -> None:
    state.attachments.setdefault(target_id, []).append(policy_id)
    state.index.add(f"attached:{target_id}", policy_id)
    state.index.add(f"targets:{_org_key(state, target_id)}:{policy_id}", target_id)
    state.dirty = True


def _detach(state: State, policy_id: str, target_id: str) -> None:
    attached = state.attachments.get(target_id, [])
    if policy_id in attached:
        attached.remove(policy_id)
    if not attached:
        state.attachments.pop(target_id, None)
    state.index.remove(f"attached:{target_id}", policy_id)
    state.index.remove(f"targets:{_org_key(state, target_id)}:{policy_id}", target_id)
    state.dirty = True


def _org_targets(state: State, org: Organization) -> list[str]:
    return [
        org.root_id,
        *[o.id for o in state.ous.values() if o.org_id == org.id],
        *[a.id for a in state.accounts.values() if a.org_id == org.id],
    ]


# --- policy types on roots --------------------------------------------------------------------


@operation("EnablePolicyType")
def enable_policy_type(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    root_id, policy_type = call.params["RootId"], call.params["PolicyType"]
    if root_id not in state.roots or state.roots[root_id].org_id != org.id:
        raise ApiError("RootNotFoundException", f"We can't find a root with the RootId {root_id}.")
    _require_all_features(org)
    if _type_status(state, org, policy_type):
        raise ApiError("PolicyTypeAlreadyEnabledException", f"The {policy_type} policy type is already enabled.")
    root = state.roots[root_id]
    root.policy_types.append({"Type": policy_type, "Status": "ENABLED"})
    if policy_type == SCP:
        # AWS attaches its FullAWSAccess to the root so enabling SCPs blocks nothing.
        full = state.policies.setdefault(
            FULL_AWS_ACCESS,
            {
                "id": FULL_AWS_ACCESS,
                "org_id": None,
                "name": "FullAWSAccess",
                "description": "Allows access to every operation",
                "type": SCP,
                "content": FULL_AWS_ACCESS_CONTENT,
                "aws_managed": True,
                "updated_ts": call.now,
                "listed_in": [],
            },
        )
        if org.id not in full["listed_in"]:
            full["listed_in"].append(org.id)
            state.index.add(f"policies:{org.id}:{SCP}", FULL_AWS_ACCESS)
        if FULL_AWS_ACCESS not in state.attachments.get(root_id, []):
            _attach(state, FULL_AWS_ACCESS, root_id)
    state.dirty = True
    return {"Root": state.root_to_api(root)}


@operation("DisablePolicyType")
def disable_policy_type(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    root_id, policy_type = call.params["RootId"], call.params["PolicyType"]
    if root_id not in state.roots or state.roots[root_id].org_id != org.id:
        raise ApiError("RootNotFoundException", f"We can't find a root with the RootId {root_id}.")
    if not _type_status(state, org, policy_type):
        raise ApiError("PolicyTypeNotEnabledException", f"The {policy_type} policy type is not enabled.")
    root = state.roots[root_id]
    root.policy_types = [t for t in root.policy_types if t["Type"] != policy_type]
    # Disabling a type detaches every policy of that type from every target of the organization.
    for target_id in _org_targets(state, org):
        for policy_id in list(state.attachments.get(target_id, [])):
            if state.policies[policy_id]["type"] == policy_type:
                _detach(state, policy_id, target_id)
    state.dirty = True
    return {"Root": state.root_to_api(root)}


# --- policies ---------------------------------------------------------------------------------


@operation("CreatePolicy")
def create_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    _require_all_features(org)
    params = call.params
    policy_type, name, content = params["Type"], params["Name"], params["Content"]
    same_type = [p for p in state.policies.values() if p.get("org_id") == org.id and p["type"] == policy_type]
    if any(p["name"] == name for p in same_type):
        raise ApiError("DuplicatePolicyException", f"A policy with the name {name} already exists.")
    if len(same_type) >= POLICY_LIMIT:
        raise ApiError(
            "ConstraintViolationException",
            f"The organization already has {POLICY_LIMIT} policies of type {policy_type}.",
            reason="POLICY_NUMBER_LIMIT_EXCEEDED",
        )
    _check_content(policy_type, content)
    policy = {
        "id": state.new_id("p-", 10),
        "org_id": org.id,
        "name": name,
        "description": params.get("Description", ""),
        "type": policy_type,
        "content": content,
        "aws_managed": False,
        "updated_ts": call.now,
    }
    state.policies[policy["id"]] = policy
    state.index.add(f"policies:{org.id}:{policy_type}", policy["id"])
    for tag in params.get("Tags", []):
        state.tags.setdefault(policy["id"], {})[tag["Key"]] = tag["Value"]
    state.dirty = True
    return _policy_out(state, policy)


@operation("UpdatePolicy")
def update_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy = _policy(call, org, call.params["PolicyId"])
    if policy.get("aws_managed"):
        raise invalid_input("IMMUTABLE_POLICY", "You can't change an AWS managed policy.")
    params = call.params
    if "Name" in params and params["Name"] != policy["name"]:
        if any(
            p["name"] == params["Name"] and p.get("org_id") == org.id and p["type"] == policy["type"]
            for p in state.policies.values()
        ):
            raise ApiError("DuplicatePolicyException", f"A policy with the name {params['Name']} already exists.")
        policy["name"] = params["Name"]
    if "Description" in params:
        policy["description"] = params["Description"]
    if "Content" in params:
        _check_content(policy["type"], params["Content"])
        policy["content"] = params["Content"]
    policy["updated_ts"] = call.now
    state.dirty = True
    return _policy_out(state, policy)


@operation("DescribePolicy")
def describe_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    return _policy_out(state, _policy(call, org, call.params["PolicyId"]))


@operation("DeletePolicy")
def delete_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy = _policy(call, org, call.params["PolicyId"])
    if policy.get("aws_managed"):
        raise invalid_input("IMMUTABLE_POLICY", "You can't delete an AWS managed policy.")
    if state.index.count(f"targets:{org.id}:{policy['id']}"):
        raise ApiError("PolicyInUseException", "The policy is attached to one or more entities. Detach it first.")
    del state.policies[policy["id"]]
    state.index.remove(f"policies:{org.id}:{policy['type']}", policy["id"])
    state.tags.pop(policy["id"], None)
    state.dirty = True
    return {}


@operation("ListPolicies")
def list_policies(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    items, token = paging.page(
        call,
        f"policies:{org.id}:{call.params['Filter']}",
        lambda policy_id: _summary(state, state.policies[policy_id]) if policy_id in state.policies else None,
    )
    return paging.with_token({"Policies": items}, token)


@operation("ListPoliciesForTarget")
def list_policies_for_target(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    target_id, policy_type = call.params["TargetId"], call.params["Filter"]
    _target_type(call, org, target_id)

    def resolve(policy_id: str) -> dict[str, Any] | None:
        policy = state.policies.get(policy_id)
        return _summary(state, policy) if policy and policy["type"] == policy_type else None

    items, token = paging.page(call, f"attached:{target_id}", resolve)
    return paging.with_token({"Policies": items}, token)


@operation("AttachPolicy")
def attach_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy = _policy(call, org, call.params["PolicyId"])
    target_id = call.params["TargetId"]
    _target_type(call, org, target_id)
    _require_enabled(state, org, policy["type"])
    attached = state.attachments.get(target_id, [])
    if policy["id"] in attached:
        raise ApiError(
            "DuplicatePolicyAttachmentException", "The selected policy is already attached to the specified target."
        )
    limit = ATTACHMENT_LIMIT.get(policy["type"], DEFAULT_ATTACHMENT_LIMIT)
    if sum(1 for p in attached if state.policies[p]["type"] == policy["type"]) >= limit:
        raise ApiError(
            "ConstraintViolationException",
            f"A target can have at most {limit} policies of type {policy['type']} attached.",
            reason="MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
        )
    _attach(state, policy["id"], target_id)
    return {}


@operation("DetachPolicy")
def detach_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy = _policy(call, org, call.params["PolicyId"])
    target_id = call.params["TargetId"]
    _target_type(call, org, target_id)
    attached = state.attachments.get(target_id, [])
    if policy["id"] not in attached:
        raise ApiError("PolicyNotAttachedException", "The policy isn't attached to the specified target.")
    if policy["type"] == SCP and sum(1 for p in attached if state.policies[p]["type"] == SCP) <= 1:
        # Every root, OU and account must keep at least one SCP while SCPs are enabled.
        raise ApiError(
            "ConstraintViolationException",
            "You can't detach the last service control policy from a target.",
            reason="MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
        )
    _detach(state, policy["id"], target_id)
    return {}


@operation("ListTargetsForPolicy")
def list_targets_for_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy = _policy(call, org, call.params["PolicyId"])
    items, token = paging.page(
        call,
        f"targets:{org.id}:{policy['id']}",
        lambda target_id: _target_out(state, target_id),
    )
    return paging.with_token({"Targets": items}, token)


# --- effective policies -----------------------------------------------------------------------


def merge(effective: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Merge a child policy into what its parents give, with the inheritance operators:
    @@assign replaces, @@append adds to a list, @@remove takes values out; other keys nest."""
    for key, value in document.items():
        if key == "@@operators_allowed_for_child_policies":
            continue  # governs children, not part of the effective document
        if key == "@@assign":
            effective["@@assign"] = value
        elif key == "@@append":
            current = effective.get("@@assign", [])
            current = current if isinstance(current, list) else [current]
            additions = value if isinstance(value, list) else [value]
            effective["@@assign"] = current + [v for v in additions if v not in current]
        elif key == "@@remove":
            current = effective.get("@@assign", [])
            removals = value if isinstance(value, list) else [value]
            if isinstance(current, list):
                effective["@@assign"] = [v for v in current if v not in removals]
            elif current in removals:
                effective.pop("@@assign", None)
        elif isinstance(value, dict):
            existing = effective.get(key)
            effective[key] = merge(existing if isinstance(existing, dict) else {}, value)
        else:
            effective[key] = value
    return effective


def _path(state: State, org: Organization, account_id: str) -> list[str]:
    """Root, each OU from the top down, then the account."""
    chain = [account_id]
    node = state.accounts[account_id].parent_id or org.root_id
    while node.startswith("ou-"):
        chain.append(node)
        node = state.ous[node].parent_id
    chain.append(org.root_id)
    return list(reversed(chain))


def effective_for(
    state: State, org: Organization, account_id: str, policy_type: str
) -> tuple[dict[str, Any], float] | None:
    """The merged document and its last change time, or None when nothing of the type reaches the account."""
    document: dict[str, Any] = {}
    updated = 0.0
    found = False
    for target_id in _path(state, org, account_id):
        for policy_id in sorted(state.attachments.get(target_id, [])):
            policy = state.policies[policy_id]
            if policy["type"] != policy_type:
                continue
            found = True
            updated = max(updated, policy["updated_ts"])
            try:
                merge(document, json.loads(policy["content"]))
            except ValueError:
                continue
    return (document, updated) if found else None


def _effective_target(call: Call, org: Organization) -> str:
    target_id = call.params.get("TargetId") or call.caller_id
    if target_id.startswith(("r-", "ou-")):
        raise invalid_input("TARGET_NOT_SUPPORTED", "An effective policy can be described for an account only.")
    account = call.state.accounts.get(target_id)
    if account is None or account.org_id != org.id:
        raise ApiError("TargetNotFoundException", f"We can't find an account with the TargetId {target_id}.")
    if call.caller_id not in (org.management_account_id, target_id):
        raise ApiError("AccessDeniedException", "A member account can describe only its own effective policy.")
    return target_id


def _not_found(policy_type: str, account_id: str) -> ApiError:
    return ApiError(
        "EffectivePolicyNotFoundException",
        f"We can't find an effective {policy_type} for account {account_id}.",
    )


@operation("DescribeEffectivePolicy")
def describe_effective_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.org()
    policy_type = call.params["PolicyType"]
    if policy_type not in enum("EffectivePolicyType"):
        # A newer model may list a type the enum check let through; SCPs and RCPs have no effective policy.
        raise invalid_input("INVALID_ENUM_POLICY_TYPE", f"{policy_type} has no effective policy.")
    account_id = _effective_target(call, org)
    found = effective_for(state, org, account_id, policy_type)
    if found is None:
        raise _not_found(policy_type, account_id)
    document, updated = found
    return {
        "EffectivePolicy": {
            "PolicyContent": json.dumps(document, separators=(",", ":")),
            "LastUpdatedTimestamp": updated,
            "TargetId": account_id,
            "PolicyType": policy_type,
        }
    }


@operation("ListAccountsWithInvalidEffectivePolicy")
def list_accounts_with_invalid_effective_policy(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    policy_type = call.params["PolicyType"]
    items, token = paging.page(
        call,
        f"invalid:{org.id}:{policy_type}",
        lambda account_id: (
            state.account_to_api(state.accounts[account_id])
            if state.accounts.get(account_id) and state.accounts[account_id].org_id == org.id
            else None
        ),
    )
    return paging.with_token({"Accounts": items, "PolicyType": policy_type}, token)


@operation("ListEffectivePolicyValidationErrors")
def list_effective_policy_validation_errors(call: Call) -> dict[str, Any]:
    state = _indexed(call.state)
    org = call.managed_org()
    account_id, policy_type = call.params["AccountId"], call.params["PolicyType"]
    account = state.accounts.get(account_id)
    if account is None or account.org_id != org.id:
        raise ApiError("AccountNotFoundException", f"We can't find an account with the AccountId {account_id}.")
    if effective_for(state, org, account_id, policy_type) is None:
        raise _not_found(policy_type, account_id)
    seeded = state.extra.get("invalid_effective", {}).get(f"{account_id}:{policy_type}", {})
    errors = list(seeded.get("errors", []))
    size = call.params.get("MaxResults") or paging.DEFAULT_PAGE
    start = 0
    if call.params.get("NextToken"):
        start = int(paging.decode(call.params["NextToken"], call.operation, f"{account_id}:{policy_type}")["a"])
    chunk = errors[start : start + size]
    body: dict[str, Any] = {
        "AccountId": account_id,
        "PolicyType": policy_type,
        "Path": state.path_of(account.parent_id or org.root_id, org) + f"{account_id}/",
        "EvaluationTimestamp": seeded.get("evaluated_ts", call.now),
        "EffectivePolicyValidationErrors": chunk,
    }
    if start + size < len(errors):
        body["NextToken"] = paging.encode({"o": call.operation, "i": f"{account_id}:{policy_type}", "a": start + size})
    return body


# --- seeding (scenarios) ----------------------------------------------------------------------


def seed_policy(
    state: State,
    org: Organization,
    *,
    name: str,
    policy_type: str,
    content: dict[str, Any],
    description: str = "",
    targets: tuple[str, ...] = (),
) -> str:
    """Create a policy directly in the state (demo data); enables its type on the root if needed."""
    _indexed(state)
    if not any(t["Type"] == policy_type for t in state.roots[org.root_id].policy_types):
        state.roots[org.root_id].policy_types.append({"Type": policy_type, "Status": "ENABLED"})
    policy_id = state.new_id("p-", 10)
    state.policies[policy_id] = {
        "id": policy_id,
        "org_id": org.id,
        "name": name,
        "description": description,
        "type": policy_type,
        "content": json.dumps(content, indent=2),
        "aws_managed": False,
        "updated_ts": state.now(),
    }
    state.index.add(f"policies:{org.id}:{policy_type}", policy_id)
    for target_id in targets:
        _attach(state, policy_id, target_id)
    state.dirty = True
    return policy_id


def seed_invalid_effective(state: State, account_id: str, policy_type: str, errors: list[dict[str, Any]]) -> None:
    """Record that an account's effective policy of `policy_type` is invalid (demo data)."""
    _indexed(state)
    account = state.accounts[account_id]
    state.extra.setdefault("invalid_effective", {})[f"{account_id}:{policy_type}"] = {
        "errors": errors,
        "evaluated_ts": state.now(),
    }
    state.index.add(f"invalid:{account.org_id}:{policy_type}", account_id)
    state.dirty = True


def all_policy_types() -> list[str]:
    return enum("PolicyType")


def seed_demo(state: State, orgs: dict[str, Organization]) -> None:
    """The demo's policies (the scenario's hook): several types (Inspector included) in Contoso
    Retail and Northwind, SCPs with FullAWSAccess, and one account (Contoso Payments) whose
    effective backup policy is invalid."""
    contoso, partner = orgs["322233344455"], orgs["210987654321"]
    # Contoso's members in the scenario's order: Web Shop, Payments, Data, Staging, Sandbox.
    by_name = {a.name: a for a in state.accounts.values() if a.org_id == contoso.id}
    web_shop, payments = by_name["Contoso Web Shop"], by_name["Contoso Payments"]
    production = web_shop.parent_id or contoso.root_id
    # SCPs the AWS way: enabling them attaches FullAWSAccess to the root.
    for org in (contoso, partner):
        root = state.roots[org.root_id]
        root.policy_types.append({"Type": SCP, "Status": "ENABLED"})
        full = state.policies.setdefault(
            FULL_AWS_ACCESS,
            {
                "id": FULL_AWS_ACCESS,
                "org_id": None,
                "name": "FullAWSAccess",
                "description": "Allows access to every operation",
                "type": SCP,
                "content": FULL_AWS_ACCESS_CONTENT,
                "aws_managed": True,
                "updated_ts": state.now(),
                "listed_in": [],
            },
        )
        full["listed_in"].append(org.id)
        _indexed(state).index.add(f"policies:{org.id}:{SCP}", FULL_AWS_ACCESS)
        _attach(state, FULL_AWS_ACCESS, org.root_id)
    seed_policy(
        state,
        contoso,
        name="Deny leaving the organization",
        policy_type=SCP,
        description="Member accounts cannot leave Contoso Retail",
        content={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
        },
        targets=(contoso.root_id,),
    )
    seed_policy(
        state,
        contoso,
        name="Inspector: scan EC2 and ECR",
        policy_type="INSPECTOR_POLICY",
        description="Amazon Inspector scanning in the Regions Contoso uses",
        content={
            "inspector": {
                "enablement": {
                    "ec2_scanning": {"enable_in_regions": {"@@assign": ["us-east-1", "eu-west-1"]}},
                    "ecr_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}},
                }
            }
        },
        targets=(contoso.root_id,),
    )
    seed_policy(
        state,
        contoso,
        name="Inspector: Lambda in production",
        policy_type="INSPECTOR_POLICY",
        description="Adds Lambda scanning for production workloads",
        content={
            "inspector": {
                "enablement": {"lambda_standard_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}}}
            }
        },
        targets=(production,),
    )
    seed_policy(
        state,
        contoso,
        name="Cost allocation tags",
        policy_type="TAG_POLICY",
        description="Every resource carries a CostCenter tag",
        content={
            "tags": {
                "costcenter": {
                    "tag_key": {"@@assign": "CostCenter"},
                    "tag_value": {"@@assign": ["retail", "payments", "data"]},
                }
            }
        },
        targets=(contoso.root_id,),
    )
    backup = seed_policy(
        state,
        contoso,
        name="Nightly backups (payments)",
        policy_type="BACKUP_POLICY",
        description="A backup plan whose vault was never created",
        content={
            "plans": {"nightly": {"rules": {"daily": {"schedule_expression": {"@@assign": "cron(0 5 ? * * *)"}}}}}
        },
        targets=(payments.id,),
    )
    seed_invalid_effective(
        state,
        payments.id,
        "BACKUP_POLICY",
        [
            {
                "ErrorCode": "ELEMENT_MISSING",
                "ErrorMessage": "The backup plan rule 'daily' has no target_backup_vault_name.",
                "PathToError": "plans.nightly.rules.daily.target_backup_vault_name",
                "ContributingPolicies": [backup],
            },
            {
                "ErrorCode": "ELEMENT_MISSING",
                "ErrorMessage": "The backup plan 'nightly' selects no resources.",
                "PathToError": "plans.nightly.selections",
                "ContributingPolicies": [backup],
            },
        ],
    )
    seed_policy(
        state,
        partner,
        name="Opt out of AI services content use",
        policy_type="AISERVICES_OPT_OUT_POLICY",
        content={"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}},
        targets=(partner.root_id,),
    )
    seed_policy(
        state,
        partner,
        name="Inspector: every Region",
        policy_type="INSPECTOR_POLICY",
        content={"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@assign": ["ALL_SUPPORTED"]}}}}},
        targets=(partner.root_id,),
    )
