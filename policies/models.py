"""The local cache of an organization's shape and policies: roots (with each policy type's status),
organizational units, accounts and where they sit, policies with their content and targets,
effective policies, and the accounts whose effective policy AWS reports as invalid.

Pages read these rows only; `policies/sync.py` fills them and `policies/services.py` applies the
answers of the portal's own actions; a policy keeps its history (`PolicyChange`) like a transfer.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from orgportal.history import CachedAwsObject, ObservedChange, change_indexes


class Root(CachedAwsObject):
    """An organization root (r-...) and the status of each policy type enabled on it."""

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="roots")
    root_id = models.CharField(max_length=34)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=128, blank=True)
    # AWS's PolicyTypes as listed: [{"Type": "TAG_POLICY", "Status": "ENABLED"}, ...]
    policy_types = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "root_id"], name="unique_root_per_connection")]

    def __str__(self) -> str:
        return f"{self.name or 'Root'} ({self.root_id})"

    def policy_type_status(self, policy_type: str) -> str:
        """ENABLED / PENDING_ENABLE / PENDING_DISABLE, or '' when the type is not enabled."""
        for entry in self.policy_types:
            if entry.get("Type") == policy_type:
                return str(entry.get("Status", ""))
        return ""


class OrganizationalUnit(CachedAwsObject):
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="org_units")
    ou_id = models.CharField(max_length=68)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=128, blank=True)
    parent_id = models.CharField(max_length=100, blank=True)  # r-... or ou-...

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "ou_id"], name="unique_ou_per_connection")]
        indexes = [models.Index(fields=["connection", "parent_id"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.ou_id})"


class AccountPlacement(CachedAwsObject):
    """Where an account sits: its parent (root or OU), from ListChildren. The account itself (name,
    email, status) is the foundation's `orgportal.Account`, filled from ListAccounts."""

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    account_id = models.CharField(max_length=12)
    parent_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "account_id"], name="unique_placement_per_connection")
        ]
        indexes = [models.Index(fields=["connection", "parent_id"])]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.parent_id}"


class JsonContent:
    """A row whose `content` is a JSON document AWS gave (a policy, an effective policy)."""

    content: str

    @property
    def pretty_content(self) -> str:
        """The JSON content indented for reading; raw text when it is not JSON."""
        return pretty_json(self.content)


class Policy(JsonContent, CachedAwsObject):
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="policies")
    policy_id = models.CharField(max_length=130)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=512, blank=True)
    type = models.CharField(max_length=64)
    aws_managed = models.BooleanField(default=False)
    content = models.TextField(blank=True)  # from DescribePolicy

    class Meta:
        ordering = ["type", "name", "policy_id"]
        constraints = [models.UniqueConstraint(fields=["connection", "policy_id"], name="unique_policy_per_connection")]
        indexes = [models.Index(fields=["connection", "type", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy_id})"


class PolicyChange(ObservedChange):
    """A policy's history: what the sync saw change in AWS, and what the portal's own actions
    (create, update, delete) changed, like a transfer's or a handshake's."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="changes")

    class Meta(ObservedChange.Meta):
        indexes = change_indexes("policy")


class PolicyAttachment(CachedAwsObject):
    """One target (root, OU or account) a policy is attached to, from ListTargetsForPolicy."""

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="attachments")
    # "<policy id>:<target id>": the one key the generic sync engine needs per connection.
    attachment_key = models.CharField(max_length=240, default="")
    target_id = models.CharField(max_length=100)
    target_type = models.CharField(max_length=32, blank=True)
    target_name = models.CharField(max_length=128, blank=True)
    target_arn = models.CharField(max_length=2048, blank=True)

    class Meta:
        ordering = ["target_type", "target_name", "target_id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "target_id"], name="unique_attachment_per_policy"),
            models.UniqueConstraint(fields=["connection", "attachment_key"], name="unique_attachment_key"),
        ]
        indexes = [models.Index(fields=["connection", "target_id"])]

    def __str__(self) -> str:
        return f"{self.policy_id} -> {self.target_id}"


class EffectivePolicy(JsonContent, CachedAwsObject):
    """What DescribeEffectivePolicy says applies to one account for one management policy type.

    `content` is empty and `found` false when AWS answers EffectivePolicyNotFoundException (nothing
    of that type reaches the account). `validation_errors` is filled for accounts that
    ListAccountsWithInvalidEffectivePolicy names, from ListEffectivePolicyValidationErrors.
    """

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    # "<account id>:<policy type>": the one key the generic sync engine needs per connection.
    effective_key = models.CharField(max_length=100, default="")
    account_id = models.CharField(max_length=12)
    policy_type = models.CharField(max_length=64)
    found = models.BooleanField(default=False)
    content = models.TextField(blank=True)
    last_updated_at = models.DateTimeField(null=True, blank=True)
    invalid = models.BooleanField(default=False)
    validation_path = models.CharField(max_length=2048, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    validation_errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["account_id", "policy_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "account_id", "policy_type"], name="unique_effective_policy_per_connection"
            ),
            models.UniqueConstraint(fields=["connection", "effective_key"], name="unique_effective_key"),
        ]
        indexes = [models.Index(fields=["connection", "invalid", "policy_type"])]

    def __str__(self) -> str:
        return f"{self.policy_type} for {self.account_id}"


def pretty_json(text: str) -> str:
    try:
        parsed: Any = json.loads(text)
    except (TypeError, ValueError):
        return text
    return json.dumps(parsed, indent=2, sort_keys=False, ensure_ascii=False)
