"""The service that changes a connection's two-person rule. Tightening it (adding actions) applies
at once; loosening it while it is on (an action taken off, another checker role) goes through the
write path's gates like every covered action, so the rule's own gate holds it for a second admin
(`approvals.services.gate`), and the approved request runs this same service again."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.events import record
from orgportal.models import AwsConnection, Role
from orgportal.roles import require_role
from orgportal.writepath import ActionRefused, PlannedAction, pass_gates

from .models import ApprovalRule

RULE_CHANGE = "approvals.rule"


def rule_for(connection: AwsConnection) -> ApprovalRule:
    """The rule of `connection` (an unsaved, empty one when none was ever set)."""
    return ApprovalRule.objects.filter(connection=connection).first() or ApprovalRule(connection=connection)


def rule_update(
    *,
    connection: AwsConnection,
    actor: Any,
    actions: list[str],
    checker_role: str,
    request: HttpRequest | None = None,
    submission: str = "",
) -> ApprovalRule:
    """Set which actions of `connection` need a second person and the checker's role. Admin role;
    audited with the rule before and after."""
    require_role(actor, connection, Role.ADMIN)
    rule = rule_for(connection)
    actions = sorted(set(actions))
    if rule.pk is not None and rule.actions == actions and rule.checker_role == checker_role:
        raise ActionRefused("The rule already reads so; nothing changed.", status=409)
    pass_gates(
        PlannedAction(
            action=RULE_CHANGE,
            connection=connection,
            actor=actor,
            request=request,
            resource=f"connection:{connection.pk}",
            operation="",
            params={"actions": actions, "checker_role": checker_role},
            arguments={
                "actions": actions,
                "checker_role": checker_role,
                "rule_changed_at": rule.changed_at.isoformat() if rule.pk else "",
            },
            submission=submission,
        )
    )
    before = {"actions": rule.actions, "checker_role": rule.checker_role} if rule.pk else None
    with transaction.atomic():
        rule.actions, rule.checker_role = actions, checker_role
        rule.changed_at, rule.changed_by = timezone.now(), actor if getattr(actor, "is_authenticated", False) else None
        rule.save()
        record(
            action="approval_rule.change",
            actor=actor,
            request=request,
            connection=connection,
            resource=f"connection:{connection.pk}",
            params={"before": before, "after": {"actions": actions, "checker_role": checker_role}},
        )
    return rule
