"""Actions on the organization and its policies: create the organization, enable or disable a
policy type on a root, create / update / delete a policy, attach and detach it — and refresh an
account's effective policy.

Every change reads top to bottom: the role (Admin for all changes), then under the one write
path's claim (`orgportal.writepath.ActionClaim`: it audits the intent and the outcome) the state
guard, the AWS call with the action credentials and the answer applied to the cached rows through
`apply_to_row` (a policy's history row included). A refusal raises `ActionRefused`, an AWS error
`ActionFailed`, as every service does; success returns a `Done` the view shows.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from orgportal import aws
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from orgportal.sync import Mirror, identity_from, save_identity
from orgportal.writepath import ActionClaim, ActionFailed, ActionRefused, apply_to_row, resource_key

from . import selectors, sync
from .models import Policy, Root
from .sync import ATTACHMENT, POLICY, ROOT, attachment_row, policy_row, root_row

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What a view tells the user after an action, in plain words, and the policy it concerns."""

    message: str
    policy: Policy | None = None


def _content_digest(content: str) -> dict[str, Any]:
    # The trail keeps what identifies the document, not its whole text (it may be large).
    return {"content_sha256": hashlib.sha256(content.encode()).hexdigest(), "content_length": len(content)}


def _after(label: str, refresh: Callable[[], Any]) -> str:
    """Run a read-after-write refresh; its failure is not the action's failure."""
    try:
        refresh()
    except aws.AwsError as error:
        logger.warning("refresh after %s failed: %s", label, error)
        return " The portal could not refresh the details from AWS just now; the next sync will."
    return ""


def _apply(mirror: Mirror[Any], connection: AwsConnection, row: dict[str, Any]) -> Any:
    """AWS's answer as the cached row of `mirror` (found by its key, or new), with its history."""
    model = mirror.model
    key = row[mirror.key_field]
    obj = model._default_manager.filter(connection=connection, **{mirror.key_field: key}).first()
    obj = obj or model(connection=connection)
    apply_to_row(obj, mirror, row)
    return obj


def _claim(
    connection: AwsConnection, actor: Any, request: HttpRequest | None, action: str, resource: str
) -> ActionClaim:
    """The claim of `action` on `resource` (a `resource_key`: what the trail names, and the key
    no second action on it may hold at the same time)."""
    return ActionClaim(
        connection=connection, actor=actor, request=request, action=action, resource=resource, key=resource
    )


# --- organization -----------------------------------------------------------------------------


def organization_create(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None, feature_set: str
) -> Done:
    """CreateOrganization for a connection whose account has no organization yet."""
    require_role(actor, connection, Role.ADMIN)
    account = resource_key("organization-of", connection.account_id or f"connection-{connection.pk}")
    with _claim(connection, actor, request, "organization.create", account) as claim:
        connection.refresh_from_db()
        if connection.organization_id:
            raise ActionRefused("This account already has an organization.")
        data = claim.call("CreateOrganization", {"FeatureSet": feature_set})
        # The same fields the sync fills on the connection row.
        organization = data["Organization"]
        caller = {
            "Id": connection.account_id or organization.get("MasterAccountId", ""),
            "Email": connection.account_email or organization.get("MasterAccountEmail", ""),
        }
        save_identity(connection, identity_from(organization, caller=caller))
    note = _after("CreateOrganization", lambda: sync.refresh_structure(connection))
    return Done(f"The organization was created with {feature_set.replace('_', ' ').lower()}.{note}")


# --- policy types -----------------------------------------------------------------------------


def policy_type_set(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None, root: Root, policy_type: str, enable: bool
) -> Done:
    """EnablePolicyType / DisablePolicyType on one root."""
    require_role(actor, connection, Role.ADMIN)
    label = selectors.policy_type_info(policy_type).label
    action = "policy_type.enable" if enable else "policy_type.disable"
    with _claim(connection, actor, request, action, resource_key("root", root.root_id)) as claim:
        root.refresh_from_db()
        status = root.policy_type_status(policy_type)
        if enable and status in ("ENABLED", "PENDING_ENABLE"):
            raise ActionRefused(f"{label} is already enabled on this root.")
        if not enable and status in ("", "PENDING_DISABLE"):
            raise ActionRefused(f"{label} is not enabled on this root.")
        data = claim.call(
            "EnablePolicyType" if enable else "DisablePolicyType", {"RootId": root.root_id, "PolicyType": policy_type}
        )
        apply_to_row(root, ROOT, root_row(data["Root"]))
    # Enabling SCPs attaches AWS's FullAWSAccess to the root; disabling detaches every policy of
    # the type. Read the type's policies again so the pages show that at once.
    note = _after(policy_type, lambda: sync.refresh_after_change(connection, [policy_type]))
    verb = "enabled" if enable else "disabled"
    return Done(f"{label} is {verb} on {root.name or root.root_id}.{note}")


# --- policies ---------------------------------------------------------------------------------


def policy_create(
    *,
    connection: AwsConnection,
    actor: Any,
    request: HttpRequest | None,
    name: str,
    description: str,
    policy_type: str,
    content: str,
) -> Done:
    require_role(actor, connection, Role.ADMIN)
    # Two creations of the same name and type in one organization at once: one reaches AWS.
    named = resource_key("policy-name", f"{connection.organization_id or connection.pk}:{policy_type}:{name}")
    with _claim(connection, actor, request, "policy.create", named) as claim:
        data = claim.call(
            "CreatePolicy",
            {"Name": name, "Description": description, "Type": policy_type, "Content": content},
            audit={"Name": name, "Description": description, "Type": policy_type, **_content_digest(content)},
        )
        policy: Policy = _apply(POLICY, connection, _policy_answer(data))
    return Done(f"The policy {policy.name} was created. Attach it to take effect.", policy)


def policy_update(
    *, policy: Policy, actor: Any, request: HttpRequest | None, name: str, description: str, content: str
) -> Done:
    require_role(actor, policy.connection, Role.ADMIN)
    with _policy_claim(policy, actor, request, action="policy.update") as claim:
        policy.refresh_from_db()
        if policy.aws_managed:
            raise ActionRefused("This policy is managed by AWS and cannot be changed.")
        params = {"PolicyId": policy.policy_id, "Name": name, "Description": description}
        data = claim.call("UpdatePolicy", {**params, "Content": content}, audit={**params, **_content_digest(content)})
        apply_to_row(policy, POLICY, _policy_answer(data))
    return Done(f"The policy {policy.name} was updated.", policy)


def policy_delete(*, policy: Policy, actor: Any, request: HttpRequest | None) -> Done:
    require_role(actor, policy.connection, Role.ADMIN)
    with _policy_claim(policy, actor, request, action="policy.delete") as claim:
        claim.call("DeletePolicy", {"PolicyId": policy.policy_id})
        apply_to_row(policy, POLICY, {}, vanished=True)
        for attachment in policy.attachments.filter(vanished_at__isnull=True):
            apply_to_row(attachment, ATTACHMENT, {}, vanished=True)
    return Done(f"The policy {policy.name} was deleted.", policy)


def policy_attachment_set(
    *, policy: Policy, target_id: str, actor: Any, request: HttpRequest | None, attach: bool
) -> Done:
    """AttachPolicy / DetachPolicy of `policy` on one root, OU or account."""
    connection = policy.connection
    require_role(actor, connection, Role.ADMIN)
    kind, name = selectors.target_name(connection, target_id) or ("", "")
    # One attachment change per policy and target at a time.
    pair = resource_key("policy-target", f"{policy.policy_id}:{target_id}")
    with _claim(connection, actor, request, "policy.attach" if attach else "policy.detach", pair) as claim:
        claim.call("AttachPolicy" if attach else "DetachPolicy", {"PolicyId": policy.policy_id, "TargetId": target_id})
        if attach:
            target = {"TargetId": target_id, "Type": kind, "Name": name}
            _apply(ATTACHMENT, connection, attachment_row(policy.pk, policy.policy_id, target))
        else:
            for attachment in policy.attachments.filter(target_id=target_id, vanished_at__isnull=True):
                apply_to_row(attachment, ATTACHMENT, {}, vanished=True)
    note = ""
    if policy.type in selectors.effective_policy_types() and kind == "ACCOUNT":
        # What the account now inherits changed: read its effective policy again.
        note = _after("effective policy", lambda: sync.refresh_effective_policy(connection, target_id, policy.type))
    label = f"{name} ({target_id})" if name else target_id
    return Done(f"{policy.name} is {'attached to' if attach else 'detached from'} {label}.{note}", policy)


def _policy_claim(policy: Policy, actor: Any, request: HttpRequest | None, *, action: str) -> ActionClaim:
    """The claim of an action on the policy itself."""
    return _claim(policy.connection, actor, request, action, resource_key("policy", policy.policy_id))


def _policy_answer(data: dict[str, Any]) -> dict[str, Any]:
    """CreatePolicy's / UpdatePolicy's Policy (its summary and content) as the sync maps a policy."""
    return policy_row(data["Policy"]["PolicySummary"], data["Policy"].get("Content", ""))


# --- effective policies -----------------------------------------------------------------------


def effective_policy_refresh(
    *, connection: AwsConnection, account_id: str, policy_type: str, actor: Any, request: HttpRequest | None
) -> Done:
    """Read DescribeEffectivePolicy for one account now (a read: the viewer role is enough)."""
    require_role(actor, connection, Role.VIEWER)
    try:
        sync.refresh_effective_policy(connection, account_id, policy_type)
    except aws.AwsError as error:
        raise ActionFailed(error) from None
    return Done("Read from AWS just now.")
