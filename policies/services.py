"""Actions on the organization and its policies: create the organization, enable or disable a
policy type on a root, create / update / delete a policy, attach and detach it — and refresh an
account's effective policy.

Every change reads top to bottom: the role (Admin for all changes), then under the one write
path's claim (`orgportal.writepath.ActionClaim`: it audits the intent and the outcome) the state
guard, the AWS call with the action credentials and the answer applied to the cached rows.
Failures come back as a `Result` the view shows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from orgportal import aws
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from orgportal.writepath import ActionClaim, ActionFailed, ActionRefused, resource_key

from . import selectors, sync
from .models import Policy, PolicyAttachment, Root

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a view tells the user: done or not, in plain words, and the policy it concerns."""

    ok: bool
    message: str
    policy: Policy | None = None


def _failed(error: ActionFailed | ActionRefused) -> Result:
    if isinstance(error, ActionFailed):
        detail = f" (AWS error {error.code}" + (f", request {error.request_id}" if error.request_id else "") + ")"
        return Result(ok=False, message=error.message + detail)
    return Result(ok=False, message=error.message)


def _content_digest(content: str) -> dict[str, Any]:
    # The trail keeps what identifies the document, not its whole text (it may be large).
    return {"content_sha256": hashlib.sha256(content.encode()).hexdigest(), "content_length": len(content)}


def _after(label: str, refresh: Any) -> str:
    """Run a read-after-write refresh; its failure is not the action's failure."""
    try:
        refresh()
    except aws.AwsError as error:
        logger.warning("refresh after %s failed: %s", label, error)
        return " The portal could not refresh the details from AWS just now; the next sync will."
    return ""


def _claim(
    connection: AwsConnection, actor: Any, request: HttpRequest | None, *, action: str, resource: str, key: str
) -> ActionClaim:
    return ActionClaim(connection=connection, actor=actor, request=request, action=action, resource=resource, key=key)


def _policy_claim(policy: Policy, actor: Any, request: HttpRequest | None, *, action: str) -> ActionClaim:
    """The claim of an action on the policy itself."""
    return _claim(
        policy.connection,
        actor,
        request,
        action=action,
        resource=f"policy:{policy.policy_id}",
        key=resource_key("policy", policy.policy_id),
    )


# --- organization -----------------------------------------------------------------------------


def organization_create(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None, feature_set: str
) -> Result:
    """CreateOrganization for a connection whose account has no organization yet."""
    require_role(actor, connection, Role.ADMIN)

    try:
        with _claim(
            connection,
            actor,
            request,
            action="organization.create",
            resource=f"account:{connection.account_id or connection.pk}",
            key=resource_key("organization-of", connection.account_id or f"connection-{connection.pk}"),
        ) as claim:
            connection.refresh_from_db()
            if connection.organization_id:
                raise ActionRefused("This account already has an organization.")
            data = claim.call("CreateOrganization", {"FeatureSet": feature_set})
            sync.apply_organization(connection, data["Organization"])
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    note = _after("CreateOrganization", lambda: sync.refresh_structure(connection))
    return Result(ok=True, message=f"The organization was created with {feature_set.replace('_', ' ').lower()}.{note}")


# --- policy types -----------------------------------------------------------------------------


def policy_type_set(
    *, connection: AwsConnection, actor: Any, request: HttpRequest | None, root: Root, policy_type: str, enable: bool
) -> Result:
    """EnablePolicyType / DisablePolicyType on one root."""
    require_role(actor, connection, Role.ADMIN)
    label = selectors.policy_type_info(policy_type).label

    try:
        with _claim(
            connection,
            actor,
            request,
            action="policy_type.enable" if enable else "policy_type.disable",
            resource=f"root:{root.root_id}",
            key=resource_key("root", root.root_id),
        ) as claim:
            root.refresh_from_db()
            status = root.policy_type_status(policy_type)
            if enable and status in ("ENABLED", "PENDING_ENABLE"):
                raise ActionRefused(f"{label} is already enabled on this root.")
            if not enable and status in ("", "PENDING_DISABLE"):
                raise ActionRefused(f"{label} is not enabled on this root.")
            data = claim.call(
                "EnablePolicyType" if enable else "DisablePolicyType",
                {"RootId": root.root_id, "PolicyType": policy_type},
            )
            sync.apply_root(connection, data["Root"])
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    # Enabling SCPs attaches AWS's FullAWSAccess to the root; disabling detaches every policy of
    # the type. Read the type's policies again so the pages show that at once.
    note = _after(policy_type, lambda: sync.refresh_after_change(connection, [policy_type]))
    verb = "enabled" if enable else "disabled"
    return Result(ok=True, message=f"{label} is {verb} on {root.name or root.root_id}.{note}")


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
) -> Result:
    require_role(actor, connection, Role.ADMIN)
    try:
        with _claim(
            connection,
            actor,
            request,
            action="policy.create",
            resource=f"policy-name:{policy_type}:{name}",
            key=resource_key("policy-name", f"{connection.organization_id or connection.pk}:{policy_type}:{name}"),
        ) as claim:
            data = claim.call(
                "CreatePolicy",
                {"Name": name, "Description": description, "Type": policy_type, "Content": content},
                audit={"Name": name, "Description": description, "Type": policy_type, **_content_digest(content)},
            )
            policy = sync.apply_policy(connection, data["Policy"])
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    return Result(ok=True, message=f"The policy {policy.name} was created. Attach it to take effect.", policy=policy)


def policy_update(
    *, policy: Policy, actor: Any, request: HttpRequest | None, name: str, description: str, content: str
) -> Result:
    connection = policy.connection
    require_role(actor, connection, Role.ADMIN)
    if policy.aws_managed:
        return Result(ok=False, message="This policy is managed by AWS and cannot be changed.", policy=policy)
    try:
        with _policy_claim(policy, actor, request, action="policy.update") as claim:
            data = claim.call(
                "UpdatePolicy",
                {"PolicyId": policy.policy_id, "Name": name, "Description": description, "Content": content},
                audit={
                    "PolicyId": policy.policy_id,
                    "Name": name,
                    "Description": description,
                    **_content_digest(content),
                },
            )
            updated = sync.apply_policy(connection, data["Policy"])
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    return Result(ok=True, message=f"The policy {updated.name} was updated.", policy=updated)


def policy_delete(*, policy: Policy, actor: Any, request: HttpRequest | None) -> Result:
    connection = policy.connection
    require_role(actor, connection, Role.ADMIN)

    try:
        with _policy_claim(policy, actor, request, action="policy.delete") as claim:
            claim.call("DeletePolicy", {"PolicyId": policy.policy_id})
            sync.apply_vanished(Policy, connection, pk=policy.pk)
            sync.apply_vanished(PolicyAttachment, connection, policy=policy)
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    return Result(ok=True, message=f"The policy {policy.name} was deleted.")


def policy_attach(*, policy: Policy, target_id: str, actor: Any, request: HttpRequest | None) -> Result:
    return _attachment(policy=policy, target_id=target_id, actor=actor, request=request, attach=True)


def policy_detach(*, policy: Policy, target_id: str, actor: Any, request: HttpRequest | None) -> Result:
    return _attachment(policy=policy, target_id=target_id, actor=actor, request=request, attach=False)


def _attachment(*, policy: Policy, target_id: str, actor: Any, request: HttpRequest | None, attach: bool) -> Result:
    connection = policy.connection
    require_role(actor, connection, Role.ADMIN)
    target = selectors.target_name(connection, target_id)
    target_label = f"{target[1]} ({target_id})" if target and target[1] else target_id

    try:
        with _claim(
            connection,
            actor,
            request,
            action="policy.attach" if attach else "policy.detach",
            resource=f"policy:{policy.policy_id}",
            # One attachment change per policy and target at a time.
            key=resource_key("policy-target", f"{policy.policy_id}:{target_id}"),
        ) as claim:
            claim.call(
                "AttachPolicy" if attach else "DetachPolicy", {"PolicyId": policy.policy_id, "TargetId": target_id}
            )
            if attach:
                kind, name = target if target else ("", "")
                sync.apply_attachment(policy, target_id, kind, name)
            else:
                sync.apply_vanished(PolicyAttachment, connection, policy=policy, target_id=target_id)
    except (ActionFailed, ActionRefused) as error:
        return _failed(error)
    note = ""
    if policy.type in selectors.effective_policy_types() and target and target[0] == "ACCOUNT":
        # What the account now inherits changed: read its effective policy again.
        note = _after("effective policy", lambda: sync.refresh_effective_policy(connection, target_id, policy.type))
    if attach:
        return Result(ok=True, message=f"{policy.name} is attached to {target_label}.{note}", policy=policy)
    return Result(ok=True, message=f"{policy.name} is detached from {target_label}.{note}", policy=policy)


# --- effective policies -----------------------------------------------------------------------


def effective_policy_refresh(
    *, connection: AwsConnection, account_id: str, policy_type: str, actor: Any, request: HttpRequest | None
) -> Result:
    """Read DescribeEffectivePolicy for one account now (a read: the viewer role is enough)."""
    require_role(actor, connection, Role.VIEWER)
    try:
        sync.refresh_effective_policy(connection, account_id, policy_type)
    except aws.AwsError as error:
        return Result(ok=False, message=f"{error.user_message} (AWS error {error.code})")
    return Result(ok=True, message="Read from AWS just now.")
