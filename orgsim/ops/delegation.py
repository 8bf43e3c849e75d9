"""What an organization lends to AWS services and other accounts: trusted service access,
delegated administrators per service, and the resource-based delegation policy.

State lives on the ``Organization`` record: ``service_access`` (principal -> enabled at),
``delegated_admins`` (account -> principal -> registered at) and ``resource_policy``.
"""

from __future__ import annotations

import json
from typing import Any

from orgsim import paging
from orgsim.errors import constraint_violation, invalid_input
from orgsim.model import model_error
from orgsim.ops.organizations import member_of
from orgsim.registry import Call, operation
from orgsim.state import Account, Organization, arn

# The service principals of "AWS services that you can use with AWS Organizations" (user guide).
# AWS refuses any other with UNRECOGNIZED_SERVICE_PRINCIPAL.
SERVICE_PRINCIPALS = frozenset(
    {
        "access-analyzer.amazonaws.com",
        "account.amazonaws.com",
        "auditmanager.amazonaws.com",
        "backup.amazonaws.com",
        "member.org.stacksets.cloudformation.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "compute-optimizer.amazonaws.com",
        "config.amazonaws.com",
        "config-multiaccountsetup.amazonaws.com",
        "controltower.amazonaws.com",
        "detective.amazonaws.com",
        "devops-guru.amazonaws.com",
        "ds.amazonaws.com",
        "fms.amazonaws.com",
        "guardduty.amazonaws.com",
        "health.amazonaws.com",
        "iam.amazonaws.com",
        "inspector2.amazonaws.com",
        "ipam.amazonaws.com",
        "license-manager.amazonaws.com",
        "macie.amazonaws.com",
        "malware-protection.guardduty.amazonaws.com",
        "ram.amazonaws.com",
        "reporting.trustedadvisor.amazonaws.com",
        "securityhub.amazonaws.com",
        "securitylake.amazonaws.com",
        "servicecatalog.amazonaws.com",
        "servicequotas.amazonaws.com",
        "sso.amazonaws.com",
        "ssm.amazonaws.com",
        "storage-lens.s3.amazonaws.com",
        "tagpolicies.tag.amazonaws.com",
        "vpc-lattice.amazonaws.com",
    }
)


def _principal(call: Call) -> str:
    principal = call.params["ServicePrincipal"]
    if principal not in SERVICE_PRINCIPALS:
        raise invalid_input(
            "UNRECOGNIZED_SERVICE_PRINCIPAL", "You specified a service principal that isn't recognized."
        )
    return principal


def _all_features(call: Call) -> Organization:
    org = call.managed_org()
    if org.feature_set != "ALL":
        # Trusted access and delegation are all-features capabilities (user guide, "Enabling trusted access").
        raise constraint_violation(
            "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE", "The organization must have all features enabled."
        )
    return org


# --- trusted service access ----------------------------------------------------------------------


@operation("EnableAWSServiceAccess")
def enable_aws_service_access(call: Call) -> dict[str, Any]:
    org = _all_features(call)
    org.service_access.setdefault(_principal(call), call.now)  # enabling twice changes nothing
    call.state.dirty = True
    return {}


@operation("DisableAWSServiceAccess")
def disable_aws_service_access(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    org.service_access.pop(_principal(call), None)
    call.state.dirty = True
    return {}


@operation("ListAWSServiceAccessForOrganization")
def list_aws_service_access_for_organization(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    enabled = [{"ServicePrincipal": p, "DateEnabled": ts} for p, ts in sorted(org.service_access.items())]
    items, token = paging.page_list(call, f"access:{org.id}", enabled)
    return paging.with_token({"EnabledServicePrincipals": items}, token)


# --- delegated administrators --------------------------------------------------------------------


@operation("RegisterDelegatedAdministrator")
def register_delegated_administrator(call: Call) -> dict[str, Any]:
    org = _all_features(call)
    account = member_of(call, org, call.params["AccountId"])
    principal = _principal(call)
    if account.id == org.management_account_id:
        raise constraint_violation(
            "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
            "You can't register the management account as a delegated administrator.",
        )
    if account.status != "ACTIVE":
        raise constraint_violation(
            "CANNOT_REGISTER_SUSPENDED_ACCOUNT_AS_DELEGATED_ADMINISTRATOR",
            "You cannot register a suspended account as a delegated administrator.",
        )
    if principal not in org.service_access:
        # The model's ConstraintViolationException documents this order (moto registers anyway).
        raise constraint_violation(
            "SERVICE_ACCESS_NOT_ENABLED",
            "You attempted to register a delegated administrator before you enabled service access.",
        )
    services = org.delegated_admins.setdefault(account.id, {})
    if principal in services:
        raise model_error("AccountAlreadyRegisteredException")
    services[principal] = call.now
    call.state.dirty = True
    return {}


def _registered(call: Call, org: Organization) -> tuple[Account, dict[str, float]]:
    account = member_of(call, org, call.params["AccountId"])
    services = org.delegated_admins.get(account.id)
    if not services:
        raise model_error("AccountNotRegisteredException")
    return account, services


@operation("DeregisterDelegatedAdministrator")
def deregister_delegated_administrator(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    account, services = _registered(call, org)
    if services.pop(_principal(call), None) is None:
        raise model_error("AccountNotRegisteredException")
    if not services:
        del org.delegated_admins[account.id]
    call.state.dirty = True
    return {}


@operation("ListDelegatedAdministrators")
def list_delegated_administrators(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    principal = call.params.get("ServicePrincipal")
    if principal is not None:
        _principal(call)
    fields = ("Id", "Arn", "Email", "Name", "Status", "State", "JoinedMethod", "JoinedTimestamp")
    admins = []
    for account_id, services in sorted(org.delegated_admins.items()):
        if principal is not None and principal not in services:
            continue
        account = state.account_to_api(state.accounts[account_id])
        admin = {name: account[name] for name in fields if name in account}
        admin["DelegationEnabledDate"] = services[principal] if principal else min(services.values())
        admins.append(admin)
    items, token = paging.page_list(call, f"admins:{org.id}:{principal or ''}", admins)
    return paging.with_token({"DelegatedAdministrators": items}, token)


@operation("ListDelegatedServicesForAccount")
def list_delegated_services_for_account(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    account, services = _registered(call, org)
    delegated = [{"ServicePrincipal": p, "DelegationEnabledDate": ts} for p, ts in sorted(services.items())]
    items, token = paging.page_list(call, f"services:{account.id}", delegated)
    return paging.with_token({"DelegatedServices": items}, token)


# --- the resource-based delegation policy ---------------------------------------------------------


def _resource_policy_out(org: Organization) -> dict[str, Any]:
    policy = org.resource_policy
    if policy is None:
        raise model_error("ResourcePolicyNotFoundException")
    summary = {"Id": policy["id"], "Arn": arn(org.management_account_id, f"resourcepolicy/{org.id}/{policy['id']}")}
    return {"ResourcePolicy": {"ResourcePolicySummary": summary, "Content": policy["content"]}}


@operation("PutResourcePolicy")
def put_resource_policy(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    content = call.params["Content"]
    try:
        document = json.loads(content)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list | dict):
        raise invalid_input("INVALID_RESOURCE_POLICY_JSON", "The resource policy is not a valid policy document.")
    if org.resource_policy is None:
        org.resource_policy = {"id": call.state.new_id("rp-", 8), "content": content}
        call.state.tag(org.resource_policy["id"], call.params.get("Tags"))
    else:
        org.resource_policy["content"] = content
    call.state.dirty = True
    return _resource_policy_out(org)


@operation("DescribeResourcePolicy")
def describe_resource_policy(call: Call) -> dict[str, Any]:
    return _resource_policy_out(call.managed_org())


@operation("DeleteResourcePolicy")
def delete_resource_policy(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    _resource_policy_out(org)  # none yet: AWS's not-found error
    call.state.tags.pop(org.resource_policy["id"] if org.resource_policy else "", None)
    org.resource_policy = None
    call.state.dirty = True
    return {}
