"""AWS pages in, database rows out, for the organization's shape and its policies.

`sync_policies_area(connection, client, run, counts)` is called from the connection sync
(`orgportal.sync.sync_connection`). Through the gateway it reads:
- ListRoots (each root with its policy types' status), the OU tree (ListOrganizationalUnitsForParent
  from each root down) and where each account sits (ListChildren ACCOUNT for each parent);
- ListPolicies for every policy type the model knows, DescribePolicy for each policy's content and
  ListTargetsForPolicy for its targets;
- for every management policy type enabled and in use: DescribeEffectivePolicy per account,
  ListAccountsWithInvalidEffectivePolicy and, for each account named there,
  ListEffectivePolicyValidationErrors.
Rows go through the one generic engine (`orgportal.sync.Upsert`): unchanged rows are not written,
observed changes are audited, objects AWS stops listing are marked vanished once every list was
read. This module only says how an AWS dict becomes row fields, plus the small read-after-write
refreshes the services run (`refresh_*`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

from orgportal import aws
from orgportal.models import Account, AwsConnection, SyncRun
from orgportal.sync import Counts, Mirror, Upsert, sync_list

from . import selectors
from .models import AccountPlacement, EffectivePolicy, OrganizationalUnit, Policy, PolicyAttachment, PolicyChange, Root

# What a connection that may not read the tree or the policies answers (a member account's
# credentials, or no organization): not a failed sync, just nothing to show on these pages.
NOTHING_TO_READ = frozenset({"AWSOrganizationsNotInUseException", "AccessDeniedException"})

ROOT = Mirror(kind="root", model=Root, key_field="root_id", fields=("root_id", "arn", "name", "policy_types"))
OU = Mirror(
    kind="organizational_unit",
    model=OrganizationalUnit,
    key_field="ou_id",
    fields=("ou_id", "arn", "name", "parent_id"),
)
PLACEMENT = Mirror(
    kind="account_placement", model=AccountPlacement, key_field="account_id", fields=("account_id", "parent_id")
)
POLICY = Mirror(
    kind="policy",
    model=Policy,
    key_field="policy_id",
    fields=("policy_id", "arn", "name", "description", "type", "aws_managed", "content"),
    change_model=PolicyChange,
    change_fk="policy",
)
ATTACHMENT = Mirror(
    kind="policy_attachment",
    model=PolicyAttachment,
    key_field="attachment_key",
    fields=("attachment_key", "policy_id", "target_id", "target_type", "target_name", "target_arn"),
)
EFFECTIVE = Mirror(
    kind="effective_policy",
    model=EffectivePolicy,
    key_field="effective_key",
    fields=(
        "effective_key",
        "account_id",
        "policy_type",
        "found",
        "content",
        "last_updated_at",
        "invalid",
        "validation_path",
        "evaluated_at",
        "validation_errors",
    ),
)


# --- AWS dict -> row fields -------------------------------------------------------------------


def root_row(root: dict[str, Any]) -> dict[str, Any]:
    return {
        "root_id": root["Id"],
        "arn": root.get("Arn", ""),
        "name": root.get("Name", ""),
        # Sorted so the fingerprint does not change with AWS's ordering.
        "policy_types": sorted(
            ({"Type": t["Type"], "Status": t["Status"]} for t in root.get("PolicyTypes", [])),
            key=lambda t: t["Type"],
        ),
    }


def policy_row(summary: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "policy_id": summary["Id"],
        "arn": summary.get("Arn", ""),
        "name": summary.get("Name", ""),
        "description": summary.get("Description", ""),
        "type": summary.get("Type", ""),
        "aws_managed": bool(summary.get("AwsManaged", False)),
        "content": content,
    }


def attachment_row(policy_pk: int, policy_id: str, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "attachment_key": f"{policy_id}:{target['TargetId']}",
        "policy_id": policy_pk,
        "target_id": target["TargetId"],
        "target_type": target.get("Type", ""),
        "target_name": target.get("Name", ""),
        "target_arn": target.get("Arn", ""),
    }


def placement_row(child: dict[str, Any], *, parent_id: str) -> dict[str, Any]:
    return {"account_id": child["Id"], "parent_id": parent_id}


def target_row(pks: dict[str, int], policy_id: str, target: dict[str, Any]) -> dict[str, Any]:
    """An attachment row of one ListTargetsForPolicy item; `pks` maps policy ids to Policy pks."""
    return attachment_row(pks[policy_id], policy_id, target)


def effective_row(
    account_id: str, policy_type: str, found: dict[str, Any] | None, invalid: dict[str, Any] | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "effective_key": f"{account_id}:{policy_type}",
        "account_id": account_id,
        "policy_type": policy_type,
        "found": found is not None,
        "content": _canonical(found.get("PolicyContent", "")) if found else "",
        "last_updated_at": found.get("LastUpdatedTimestamp") if found else None,
        "invalid": False,
        "validation_path": "",
        "evaluated_at": None,
        "validation_errors": [],
    }
    if invalid:
        row.update(invalid)
    return row


def _canonical(content: str) -> str:
    # AWS may reformat the JSON between reads; a canonical form keeps the fingerprint stable.
    try:
        return json.dumps(json.loads(content), sort_keys=True)
    except (TypeError, ValueError):
        return content


# --- the sync ---------------------------------------------------------------------------------


def sync_policies_area(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    """Roots, OUs, placements, policies and effective policies of one connection (one sync run)."""
    if not connection.organization_id:
        return
    try:
        roots = Upsert(ROOT, connection, run, counts)
        sync_list(roots, client, "ListRoots", "Roots", root_row)
    except aws.AwsError as error:
        if error.code in NOTHING_TO_READ:
            return
        raise
    roots.finish()
    _sync_tree(connection, client, run, counts, [key for key in roots.seen])
    _sync_policies(connection, client, run, counts)
    _sync_effective(connection, client, run, counts)


def _sync_tree(
    connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts, root_ids: list[str]
) -> None:
    ous = Upsert(OU, connection, run, counts)
    placements = Upsert(PLACEMENT, connection, run, counts)
    parents = list(root_ids)
    while parents:
        parent_id = parents.pop()
        for page in aws.iter_pages(
            client, "ListOrganizationalUnitsForParent", "OrganizationalUnits", ParentId=parent_id
        ):
            ous.page(
                {"ou_id": ou["Id"], "arn": ou.get("Arn", ""), "name": ou.get("Name", ""), "parent_id": parent_id}
                for ou in page
            )
            parents.extend(ou["Id"] for ou in page)
        sync_list(
            placements,
            client,
            "ListChildren",
            "Children",
            partial(placement_row, parent_id=parent_id),
            ParentId=parent_id,
            ChildType="ACCOUNT",
        )
    ous.finish()
    placements.finish()


def _sync_policies(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    policies = Upsert(POLICY, connection, run, counts)
    attachments = Upsert(ATTACHMENT, connection, run, counts)
    _read_policies(connection, client, selectors.policy_types(), policies, attachments)
    policies.finish()
    attachments.finish()


def _read_policies(
    connection: AwsConnection, client: Any, policy_types: Iterable[str], policies: Upsert, attachments: Upsert
) -> None:
    """The policies of `policy_types`, with their content and targets, into the two upserts.

    ListPolicies gives summaries only: the content (DescribePolicy) and the targets
    (ListTargetsForPolicy) take a call per policy, made `aws.FAN_OUT` at a time.
    """
    listed: list[str] = []
    for policy_type in policy_types:
        for page in aws.iter_pages(client, "ListPolicies", "Policies", Filter=policy_type):
            contents = aws.fan_out(partial(_policy_content, client), [summary["Id"] for summary in page])
            policies.page(policy_row(summary, content) for summary, content in zip(page, contents, strict=True))
            listed.extend(summary["Id"] for summary in page)
    pks = dict(Policy.objects.filter(connection=connection, policy_id__in=listed).values_list("policy_id", "pk"))
    targets = aws.fan_out(partial(_policy_targets, client), listed)
    for policy_id, found in zip(listed, targets, strict=True):
        attachments.page(target_row(pks, policy_id, target) for target in found)


def _policy_content(client: Any, policy_id: str) -> str:
    return str(aws.call(client, "DescribePolicy", PolicyId=policy_id).data["Policy"].get("Content", ""))


def _policy_targets(client: Any, policy_id: str) -> list[dict[str, Any]]:
    return list(aws.paginate(client, "ListTargetsForPolicy", "Targets", PolicyId=policy_id))


def _sync_effective(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    in_use = set(Policy.objects.filter(connection=connection, vanished_at__isnull=True).values_list("type", flat=True))
    enabled = {
        entry["Type"]
        for root in Root.objects.filter(connection=connection, vanished_at__isnull=True)
        for entry in root.policy_types
        if entry.get("Status") == "ENABLED"
    }
    account_ids = list(
        Account.objects.filter(connection=connection, vanished_at__isnull=True).values_list("account_id", flat=True)
    )
    effective = Upsert(EFFECTIVE, connection, run, counts)
    for policy_type in selectors.effective_policy_types():
        if policy_type not in in_use or policy_type not in enabled:
            continue  # nothing of this type can reach any account: no calls
        invalid = _invalid_accounts(client, policy_type)
        found = aws.fan_out(partial(_describe_effective, client, policy_type=policy_type), account_ids)
        effective.page(
            effective_row(account_id, policy_type, policy, invalid.get(account_id))
            for account_id, policy in zip(account_ids, found, strict=True)
        )
    effective.finish()


def _describe_effective(client: Any, account_id: str, *, policy_type: str) -> dict[str, Any] | None:
    try:
        return aws.call(client, "DescribeEffectivePolicy", PolicyType=policy_type, TargetId=account_id).data[
            "EffectivePolicy"
        ]
    except aws.AwsError as error:
        if error.code == "EffectivePolicyNotFoundException":
            return None  # nothing of this type reaches the account
        raise


def _invalid_accounts(client: Any, policy_type: str) -> dict[str, dict[str, Any]]:
    """account id -> the invalid/validation fields, for the accounts AWS reports as invalid."""
    found: dict[str, dict[str, Any]] = {}
    try:
        accounts = list(
            aws.paginate(client, "ListAccountsWithInvalidEffectivePolicy", "Accounts", PolicyType=policy_type)
        )
    except aws.AwsError as error:
        if error.code == "EffectivePolicyNotFoundException":
            return found
        raise
    for account in accounts:
        errors: list[dict[str, Any]] = []
        path = ""
        evaluated = None
        for page in aws.iter_responses(
            client, "ListEffectivePolicyValidationErrors", AccountId=account["Id"], PolicyType=policy_type
        ):
            path = page.get("Path", path)
            evaluated = page.get("EvaluationTimestamp", evaluated)
            errors.extend(
                {
                    "code": e.get("ErrorCode", ""),
                    "message": e.get("ErrorMessage", ""),
                    "path": e.get("PathToError", ""),
                    "policies": list(e.get("ContributingPolicies", [])),
                }
                for e in page.get("EffectivePolicyValidationErrors", [])
            )
        found[account["Id"]] = {
            "invalid": True,
            "validation_path": path,
            "evaluated_at": evaluated,
            "validation_errors": errors,
        }
    return found


# --- read-after-write (services) --------------------------------------------------------------
# An action's own answer is written by the service (`orgportal.writepath.apply_to_row`, with its
# history row); these re-read from AWS what an action changed beyond its answer, as a sync does.


def refresh_after_change(connection: AwsConnection, policy_types: Iterable[str] = ()) -> None:
    """Re-read roots, and the policies of `policy_types` with their targets, without vanishing
    anything of other types (a partial read never vanishes rows)."""
    client = aws.client_for(connection, "read")
    counts = Counts()
    roots = Upsert(ROOT, connection, None, counts)
    sync_list(roots, client, "ListRoots", "Roots", root_row)
    policies = Upsert(POLICY, connection, None, counts)
    attachments = Upsert(ATTACHMENT, connection, None, counts)
    _read_policies(connection, client, policy_types, policies, attachments)


def refresh_structure(connection: AwsConnection) -> None:
    """Roots, OUs and placements (after CreateOrganization)."""
    client = aws.client_for(connection, "read")
    counts = Counts()
    roots = Upsert(ROOT, connection, None, counts)
    sync_list(roots, client, "ListRoots", "Roots", root_row)
    roots.finish()
    _sync_tree(connection, client, None, counts, list(roots.seen))


def refresh_effective_policy(connection: AwsConnection, account_id: str, policy_type: str) -> EffectivePolicy:
    """One account's effective policy of one type, read now (after an attach, or on request)."""
    client = aws.client_for(connection, "read")
    found = _describe_effective(client, account_id, policy_type=policy_type)
    existing = EffectivePolicy.objects.filter(
        connection=connection, effective_key=f"{account_id}:{policy_type}"
    ).first()
    invalid = None
    if existing is not None and existing.invalid:
        # Validity comes from the invalid-accounts list, read by the sync; keep what it said.
        invalid = {
            "invalid": True,
            "validation_path": existing.validation_path,
            "evaluated_at": existing.evaluated_at,
            "validation_errors": existing.validation_errors,
        }
    Upsert(EFFECTIVE, connection, None, Counts()).page([effective_row(account_id, policy_type, found, invalid)])
    return EffectivePolicy.objects.get(connection=connection, effective_key=f"{account_id}:{policy_type}")
