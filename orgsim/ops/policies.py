"""The policy operations: policy types on roots, policies, attachments, effective policies.

Every policy type comes from the model's ``PolicyType`` enum and every management type from
``EffectivePolicyType``, so a newer botocore (a new type) needs no code change here. Policies are
``state.Policy`` records; the state keeps their attachments and the indexes their lists page.

AWS behaviour kept: only the management account manages policies; enabling SCPs (RCPs) attaches
the AWS-managed FullAWSAccess (RCPFullAWSAccess) to the root, every OU and every account, new ones
included; a target must keep at least one SCP; RCPFullAWSAccess cannot be detached; an attached
policy cannot be deleted; AWS-managed policies cannot be changed; content quotas per type; an
effective policy is the merge of what the root, each OU on the path and the account carry.
"""

from __future__ import annotations

import json
from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, constraint_violation, invalid_input
from orgsim.model import enum, model_error
from orgsim.registry import Call, operation
from orgsim.state import MANAGED_POLICIES, RCP, SCP, Organization, Policy, State

AUTHORIZATION_TYPES = (SCP, RCP)  # IAM-style documents; no effective policy
# AWS's quotas (Organizations user guide, "Quotas"): document size in characters, attachments of
# one type per target, policies per type per organization.
CONTENT_LIMIT = {SCP: 5120, RCP: 5120, "AISERVICES_OPT_OUT_POLICY": 2500}
DEFAULT_CONTENT_LIMIT = 10000
ATTACHMENT_LIMIT = {SCP: 5, RCP: 5}
DEFAULT_ATTACHMENT_LIMIT = 10
POLICY_LIMIT = 1000


# --- lookups ----------------------------------------------------------------------------------


def _policy(call: Call, org: Organization) -> Policy:
    policy = call.state.policies.get(call.params["PolicyId"])
    if policy is None or (not policy.aws_managed and policy.org_id != org.id):
        raise model_error("PolicyNotFoundException")
    return policy


def _attachment(call: Call) -> tuple[Organization, Policy, str]:
    """What an attach or detach names: the caller's organization, its policy and its target."""
    org = call.managed_org()
    return org, _policy(call, org), _target(call, org)


def _target(call: Call, org: Organization) -> str:
    """The TargetId when it is a root, OU or account of this organization; AWS's error otherwise."""
    state, target_id = call.state, call.params["TargetId"]
    if target_id.startswith("r-"):
        found = target_id in state.roots and state.roots[target_id].org_id == org.id
    elif target_id.startswith("ou-"):
        found = target_id in state.ous and state.ous[target_id].org_id == org.id
    else:
        found = target_id in state.accounts and state.accounts[target_id].org_id == org.id
    if not found:
        raise model_error("TargetNotFoundException")
    return target_id


def _root(call: Call, org: Organization) -> str:
    root_id = call.params["RootId"]
    if root_id not in call.state.roots or call.state.roots[root_id].org_id != org.id:
        raise model_error("RootNotFoundException")
    return root_id


def _require_enabled(state: State, org: Organization, policy_type: str) -> None:
    if state.type_status(org, policy_type) != "ENABLED":
        raise model_error("PolicyTypeNotEnabledException")


def _require_all_features(org: Organization) -> None:
    if org.feature_set != "ALL":
        raise model_error("PolicyTypeNotAvailableForOrganizationException")


def _policy_out(state: State, policy: Policy) -> dict[str, Any]:
    return {"Policy": {"PolicySummary": policy.summary(state), "Content": policy.content}}


def _target_out(state: State, target_id: str) -> dict[str, Any]:
    if target_id.startswith("r-"):
        out, kind = state.root_to_api(state.roots[target_id]), "ROOT"
    elif target_id.startswith("ou-"):
        out, kind = state.ou_to_api(state.ous[target_id]), "ORGANIZATIONAL_UNIT"
    else:
        out, kind = state.account_to_api(state.accounts[target_id]), "ACCOUNT"
    return {"TargetId": target_id, "Arn": out["Arn"], "Name": out["Name"], "Type": kind}


def _check_content(policy_type: str, content: str) -> None:
    limit = CONTENT_LIMIT.get(policy_type, DEFAULT_CONTENT_LIMIT)
    if len(content) > limit:
        raise constraint_violation(
            "POLICY_CONTENT_LIMIT_EXCEEDED", f"The policy content exceeds the {limit}-character limit of {policy_type}."
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


def _require_unique_name(state: State, org: Organization, policy_type: str, name: str) -> None:
    if any(p.org_id == org.id and p.type == policy_type and p.name == name for p in state.policies.values()):
        raise model_error("DuplicatePolicyException")


def _own_policy(call: Call, verb: str) -> tuple[Organization, Policy]:
    """The caller's organization and the policy it may `verb` ("change", "delete"): one of its own,
    never an AWS managed one."""
    org = call.managed_org()
    policy = _policy(call, org)
    if policy.aws_managed:
        raise invalid_input("IMMUTABLE_POLICY", f"You can't {verb} an AWS managed policy.")
    return org, policy


# --- policy types on roots --------------------------------------------------------------------


@operation("EnablePolicyType")
def enable_policy_type(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    root_id, policy_type = _root(call, org), call.params["PolicyType"]
    _require_all_features(org)
    if call.state.type_status(org, policy_type):
        raise model_error("PolicyTypeAlreadyEnabledException")
    call.state.enable_policy_type(org, policy_type, call.now)
    return {"Root": call.state.root_to_api(call.state.roots[root_id])}


@operation("DisablePolicyType")
def disable_policy_type(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    root_id, policy_type = _root(call, org), call.params["PolicyType"]
    if not state.type_status(org, policy_type):
        raise model_error("PolicyTypeNotEnabledException")
    root = state.roots[root_id]
    root.policy_types = [t for t in root.policy_types if t["Type"] != policy_type]
    # Disabling a type detaches every policy of that type from every target of the organization.
    for target_id in state.org_targets(org):
        for policy in state.attached(target_id, policy_type):
            state.detach(policy.id, target_id)
    state.dirty = True
    return {"Root": state.root_to_api(root)}


# --- policies ---------------------------------------------------------------------------------


@operation("CreatePolicy")
def create_policy(call: Call) -> dict[str, Any]:
    state = call.state
    org = call.managed_org()
    _require_all_features(org)
    params = call.params
    policy_type, name, content = params["Type"], params["Name"], params["Content"]
    _require_unique_name(state, org, policy_type, name)
    if state.index.count(f"policies:{org.id}:{policy_type}") >= POLICY_LIMIT:
        raise constraint_violation(
            "POLICY_NUMBER_LIMIT_EXCEEDED",
            f"The organization already has {POLICY_LIMIT} policies of type {policy_type}.",
        )
    _check_content(policy_type, content)
    policy = state.add_policy(
        Policy(
            id=state.new_id("p-", 10),
            org_id=org.id,
            name=name,
            description=params.get("Description", ""),
            type=policy_type,
            content=content,
            updated_ts=call.now,
        )
    )
    state.tag(policy.id, params.get("Tags"))
    return _policy_out(state, policy)


@operation("UpdatePolicy")
def update_policy(call: Call) -> dict[str, Any]:
    state = call.state
    org, policy = _own_policy(call, "change")
    params = call.params
    if "Name" in params and params["Name"] != policy.name:
        _require_unique_name(state, org, policy.type, params["Name"])
        policy.name = params["Name"]
    if "Description" in params:
        policy.description = params["Description"]
    if "Content" in params:
        _check_content(policy.type, params["Content"])
        policy.content = params["Content"]
    policy.updated_ts = call.now
    state.dirty = True
    return _policy_out(state, policy)


@operation("DescribePolicy")
def describe_policy(call: Call) -> dict[str, Any]:
    return _policy_out(call.state, _policy(call, call.managed_org()))


@operation("DeletePolicy")
def delete_policy(call: Call) -> dict[str, Any]:
    state = call.state
    org, policy = _own_policy(call, "delete")
    if state.index.count(f"targets:{org.id}:{policy.id}"):
        raise model_error("PolicyInUseException")
    state.remove_policy(policy)
    return {}


@operation("ListPolicies")
def list_policies(call: Call) -> dict[str, Any]:
    state = call.state
    org = call.managed_org()
    items, token = paging.page(
        call,
        f"policies:{org.id}:{call.params['Filter']}",
        lambda policy_id: state.policies[policy_id].summary(state) if policy_id in state.policies else None,
    )
    return paging.with_token({"Policies": items}, token)


@operation("ListPoliciesForTarget")
def list_policies_for_target(call: Call) -> dict[str, Any]:
    state = call.state
    org = call.managed_org()
    target_id, policy_type = _target(call, org), call.params["Filter"]

    def resolve(policy_id: str) -> dict[str, Any] | None:
        policy = state.policies.get(policy_id)
        return policy.summary(state) if policy and policy.type == policy_type else None

    items, token = paging.page(call, f"attached:{target_id}", resolve)
    return paging.with_token({"Policies": items}, token)


@operation("AttachPolicy")
def attach_policy(call: Call) -> dict[str, Any]:
    state = call.state
    org, policy, target_id = _attachment(call)
    _require_enabled(state, org, policy.type)
    if policy.id in state.attachments.get(target_id, []):
        raise model_error("DuplicatePolicyAttachmentException")
    limit = ATTACHMENT_LIMIT.get(policy.type, DEFAULT_ATTACHMENT_LIMIT)
    if len(state.attached(target_id, policy.type)) >= limit:
        raise constraint_violation(
            "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            f"A target can have at most {limit} policies of type {policy.type} attached.",
        )
    state.attach(policy.id, target_id)
    return {}


@operation("DetachPolicy")
def detach_policy(call: Call) -> dict[str, Any]:
    state = call.state
    _org, policy, target_id = _attachment(call)
    if policy.id not in state.attachments.get(target_id, []):
        raise model_error("PolicyNotAttachedException")
    if policy.id == MANAGED_POLICIES[RCP][0]:
        # RCP evaluation (user guide): RCPFullAWSAccess stays on every target while RCPs are enabled.
        raise invalid_input("NON_DETACHABLE_POLICY", "You can't detach the AWS managed policy RCPFullAWSAccess.")
    if policy.type == SCP and len(state.attached(target_id, SCP)) <= 1:
        # Every root, OU and account must keep at least one SCP while SCPs are enabled.
        raise constraint_violation(
            "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            "You can't detach the last service control policy from a target.",
        )
    state.detach(policy.id, target_id)
    return {}


@operation("ListTargetsForPolicy")
def list_targets_for_policy(call: Call) -> dict[str, Any]:
    state = call.state
    org = call.managed_org()
    policy = _policy(call, org)
    items, token = paging.page(call, f"targets:{org.id}:{policy.id}", lambda target_id: _target_out(state, target_id))
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
        for policy in sorted(state.attached(target_id, policy_type), key=lambda p: p.id):
            found = True
            updated = max(updated, policy.updated_ts)
            try:
                merge(document, json.loads(policy.content))
            except ValueError:
                continue
    return (document, updated) if found else None


def _effective_target(call: Call, org: Organization) -> str:
    target_id = call.params.get("TargetId") or call.caller_id
    if target_id.startswith(("r-", "ou-")):
        raise invalid_input("TARGET_NOT_SUPPORTED", "An effective policy can be described for an account only.")
    account = call.state.accounts.get(target_id)
    if account is None or account.org_id != org.id:
        raise model_error("TargetNotFoundException")
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
    state = call.state
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
    state = call.state
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
    state = call.state
    org = call.managed_org()
    account_id, policy_type = call.params["AccountId"], call.params["PolicyType"]
    account = state.accounts.get(account_id)
    if account is None or account.org_id != org.id:
        raise model_error("AccountNotFoundException")
    if effective_for(state, org, account_id, policy_type) is None:
        raise _not_found(policy_type, account_id)
    seeded = state.invalid_effective.get(f"{account_id}:{policy_type}", {})
    chunk, token = paging.page_list(call, f"{account_id}:{policy_type}", list(seeded.get("errors", [])))
    body: dict[str, Any] = {
        "AccountId": account_id,
        "PolicyType": policy_type,
        "Path": state.path_of(account.parent_id or org.root_id, org) + f"{account_id}/",
        "EvaluationTimestamp": seeded.get("evaluated_ts", call.now),
        "EffectivePolicyValidationErrors": chunk,
    }
    return paging.with_token(body, token)
