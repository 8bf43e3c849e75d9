"""Reads for the organization and policy pages: what the API model knows about policy types, and
the database queries the pages run (filtered; the views page them by keyset), and a policy's
history. Nothing here calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from orgportal import aws
from orgportal.models import Account, AwsConnection
from orgportal.pages import FieldChange, change_lines
from orgportal.roles import connections_for

from .models import AccountPlacement, EffectivePolicy, OrganizationalUnit, Policy, PolicyAttachment, PolicyChange, Root


def enum(shape_name: str) -> list[str]:
    """An enum of botocore's Organizations model (through the gateway, the one place that reads it)."""
    return aws.enum_values(shape_name)


def shape_limits(shape_name: str) -> dict[str, Any]:
    """min / max / pattern of a string shape, as the model states them."""
    constraints = aws.shape_constraints(shape_name)
    return {key: constraints[key] for key in ("min", "max", "pattern") if constraints.get(key) is not None}


def policy_types() -> list[str]:
    """Every policy type the model knows (a type AWS adds later appears with a newer botocore)."""
    return enum("PolicyType")


def effective_policy_types() -> list[str]:
    """The types DescribeEffectivePolicy accepts (management policies; not SCPs or RCPs)."""
    return enum("EffectivePolicyType")


def feature_sets() -> list[str]:
    return enum("OrganizationFeatureSet")


# What each type governs, in a sentence, for the enable/disable confirmation. A type missing here
# (one AWS adds later) still works: it gets GENERIC_DESCRIPTION.
DESCRIPTIONS: dict[str, str] = {
    "SERVICE_CONTROL_POLICY": "the most permissions that IAM users and roles in member accounts can ever have.",
    "RESOURCE_CONTROL_POLICY": "the most permissions that anyone can have on resources in member accounts.",
    "TAG_POLICY": "which tag keys and values resources must use, so cost allocation stays consistent.",
    "BACKUP_POLICY": "AWS Backup plans applied to the accounts' resources.",
    "AISERVICES_OPT_OUT_POLICY": "whether AWS AI services may store and use the accounts' content to improve.",
    "CHATBOT_POLICY": "which chat applications (Slack, Microsoft Teams) may be used to manage the accounts.",
    "DECLARATIVE_POLICY_EC2": "a baseline EC2, VPC and EBS configuration enforced in every account.",
    "SECURITYHUB_POLICY": "how AWS Security Hub is enabled and configured in the accounts.",
    "SECURITYHUB_CSPM_POLICY": "how Security Hub CSPM (posture management) is enabled in the accounts.",
    "INSPECTOR_POLICY": "which Amazon Inspector scans (EC2, ECR, Lambda, code) are enabled, and in which Regions.",
    "UPGRADE_ROLLOUT_POLICY": "the order in which accounts receive automatic upgrades of AWS services.",
    "BEDROCK_POLICY": "Amazon Bedrock settings applied to the accounts, such as guardrails.",
    "S3_POLICY": "account-level Amazon S3 settings, such as Block Public Access.",
    "NETWORK_SECURITY_DIRECTOR_POLICY": "how AWS Network Security Director analyses the accounts' networks.",
    "GUARDDUTY_POLICY": "which Amazon GuardDuty protection plans are enabled in the accounts.",
}
GENERIC_DESCRIPTION = (
    "settings of an AWS service for the accounts the policy is attached to (see the AWS documentation)."
)


@dataclass(frozen=True)
class PolicyTypeInfo:
    type: str
    label: str
    governs: str
    has_effective_policy: bool


def policy_type_info(policy_type: str) -> PolicyTypeInfo:
    label = policy_type.replace("_", " ").title().replace("Aiservices", "AI services").replace("Ec2", "EC2")
    return PolicyTypeInfo(
        type=policy_type,
        label=label,
        governs=DESCRIPTIONS.get(policy_type, GENERIC_DESCRIPTION),
        has_effective_policy=policy_type in effective_policy_types(),
    )


def policy_type_rows(root: Root) -> list[dict[str, Any]]:
    """One row per type the model knows, with its status on `root` ('' = not enabled)."""
    return [{"info": policy_type_info(t), "status": root.policy_type_status(t)} for t in policy_types()]


# --- database reads ---------------------------------------------------------------------------


def roots(connection: AwsConnection) -> QuerySet[Root]:
    return Root.objects.filter(connection=connection, vanished_at__isnull=True).order_by("root_id")


def accounts(connection: AwsConnection, *, q: str = "", parent_id: str = "") -> QuerySet[Account]:
    """The organization's accounts (the foundation's ListAccounts cache), each with `parent_id`."""
    placement = AccountPlacement.objects.filter(
        connection=connection, account_id=OuterRef("account_id"), vanished_at__isnull=True
    ).values("parent_id")[:1]
    rows = Account.objects.filter(connection=connection, vanished_at__isnull=True).annotate(
        parent_id=Subquery(placement)
    )
    if parent_id:
        rows = rows.filter(parent_id=parent_id)
    if q:
        rows = rows.filter(Q(account_id__icontains=q) | Q(name__icontains=q) | Q(email__icontains=q))
    return rows.order_by("name", "account_id")


def org_units(connection: AwsConnection, *, q: str = "", parent_id: str = "") -> QuerySet[OrganizationalUnit]:
    rows = OrganizationalUnit.objects.filter(connection=connection, vanished_at__isnull=True)
    if parent_id:
        rows = rows.filter(parent_id=parent_id)
    if q:
        rows = rows.filter(Q(ou_id__icontains=q) | Q(name__icontains=q))
    return rows.order_by("name", "ou_id")


def policies(connection: AwsConnection, *, policy_type: str = "", q: str = "") -> QuerySet[Policy]:
    rows = Policy.objects.filter(connection=connection, vanished_at__isnull=True).annotate(
        target_count=Count("attachments", filter=Q(attachments__vanished_at__isnull=True))
    )
    if policy_type:
        rows = rows.filter(type=policy_type)
    if q:
        rows = rows.filter(Q(policy_id__icontains=q) | Q(name__icontains=q) | Q(description__icontains=q))
    return rows.order_by("type", "name", "policy_id")


def _usable_id(value: str) -> bool:
    # An id from a URL or a form; a NUL byte is no AWS id (and PostgreSQL refuses it in a query).
    return bool(value) and "\x00" not in value


def policy_for(connection: AwsConnection, policy_id: str) -> Policy | None:
    """The policy `policy_id` of `connection` (the connection is already the user's: see the views)."""
    if not _usable_id(policy_id):
        return None
    return Policy.objects.filter(connection=connection, policy_id=policy_id, vanished_at__isnull=True).first()


def attachments(policy: Policy) -> QuerySet[PolicyAttachment]:
    return policy.attachments.filter(vanished_at__isnull=True).order_by("target_type", "target_name", "target_id")


def policy_timeline(policy: Policy) -> list[tuple[PolicyChange, list[FieldChange]]]:
    """Every observed change of `policy` (sync and portal actions), oldest first, for its page."""
    changes = policy.changes.select_related("sync_run").order_by("observed_at", "id")
    return [(change, change_lines(change.kind, change.changes)) for change in changes]


def policies_for_target(connection: AwsConnection, target_id: str, *, policy_type: str = "") -> QuerySet[Policy]:
    """What ListPoliciesForTarget would answer, from the cached attachments."""
    rows = Policy.objects.filter(
        connection=connection,
        vanished_at__isnull=True,
        attachments__target_id=target_id,
        attachments__vanished_at__isnull=True,
    )
    if policy_type:
        rows = rows.filter(type=policy_type)
    return rows.order_by("type", "name")


def target_name(connection: AwsConnection, target_id: str) -> tuple[str, str] | None:
    """(type, name) of a root, OU or account of this connection, or None if the cache has no such target."""
    if not _usable_id(target_id):
        return None
    if target_id.startswith("r-"):
        root = Root.objects.filter(connection=connection, root_id=target_id).first()
        return ("ROOT", root.name) if root else None
    if target_id.startswith("ou-"):
        ou = OrganizationalUnit.objects.filter(connection=connection, ou_id=target_id).first()
        return ("ORGANIZATIONAL_UNIT", ou.name) if ou else None
    account = Account.objects.filter(connection=connection, account_id=target_id).first()
    return ("ACCOUNT", account.name) if account else None


def targets(connection: AwsConnection) -> list[tuple[str, str]]:
    """Every root, OU and account as (id, label) choices for attaching a policy."""
    choices: list[tuple[str, str]] = [(r.root_id, f"Root {r.name} ({r.root_id})") for r in roots(connection)]
    choices += [(o.ou_id, f"OU {o.name} ({o.ou_id})") for o in org_units(connection)]
    choices += [(a.account_id, f"Account {a.name} ({a.account_id})") for a in accounts(connection)]
    return choices


def effective_policy(connection: AwsConnection, account_id: str, policy_type: str) -> EffectivePolicy | None:
    return EffectivePolicy.objects.filter(
        connection=connection, account_id=account_id, policy_type=policy_type, vanished_at__isnull=True
    ).first()


def invalid_effective_policies(
    connections: QuerySet[AwsConnection] | list[AwsConnection], *, policy_type: str = ""
) -> QuerySet[EffectivePolicy]:
    rows = EffectivePolicy.objects.filter(connection__in=connections, invalid=True, vanished_at__isnull=True)
    if policy_type:
        rows = rows.filter(policy_type=policy_type)
    return rows.select_related("connection").order_by("connection__name", "account_id", "policy_type")


def account_names(connection: AwsConnection, account_ids: list[str]) -> dict[str, str]:
    return dict(
        Account.objects.filter(connection=connection, account_id__in=account_ids).values_list("account_id", "name")
    )


def inbox_invalid_policies(user: Any, limit: int = 20) -> list[EffectivePolicy]:
    """For the inbox: invalid effective policies on the connections `user` may see (something to fix)."""
    return list(invalid_effective_policies(connections_for(user))[:limit])
