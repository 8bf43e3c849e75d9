"""The actions a two-person rule may hold, and for each: its words, the role the action itself
needs, whether a planned action is one it covers, how the held request runs the SAME service again
with the stored arguments, its answer-by deadline, and what in AWS makes it moot.

The stored arguments are the service's keyword arguments as JSON: a cached row by its id, a moment
as ISO-8601 text, everything else as given (`to_json`); each `run` turns them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.http import HttpRequest

from handshakes.models import Handshake
from handshakes.services import (
    handshake_answer,
    organization_enable_all_features,
    organization_invite_account,
    resync_handshake,
    transfer_invite,
)
from orgportal import aws
from orgportal.models import AwsConnection, Role
from orgportal.writepath import PlannedAction
from transfers.models import ResponsibilityTransfer, accept_by
from transfers.services import OFFER_MARGIN, resync_transfer, transfer_terminate

from .models import ApprovalRule
from .rules import rule_update

RULE_CHANGE = "approvals.rule"  # also in approvals.rules

# run(arguments, connection=..., actor=..., request=...) -> what the service returned
Runner = Callable[..., Any]


@dataclass(frozen=True)
class Covered:
    label: str
    role: str  # the role the action itself needs: the checker holds it too
    run: Runner
    applies: Callable[[PlannedAction], bool] = lambda planned: True
    # When AWS stops taking it (beyond the request's own window); None when AWS sets no deadline.
    deadline: Callable[[dict[str, Any]], datetime | None] = lambda arguments: None
    # Why the request has become pointless ("" if it still stands); `refresh` re-reads AWS first.
    moot: Callable[[AwsConnection, dict[str, Any], bool], str] = lambda connection, arguments, refresh: ""


def to_json(arguments: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, models.Model):
            return value.pk
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    return {name: one(value) for name, value in arguments.items()}


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """The AWS parameters as stored and shown: moments in ISO-8601, the rest as sent."""
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in params.items()}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- handshakes: accept and decline a billing-transfer invitation --------------------------------


def _handshake(arguments: dict[str, Any]) -> Handshake:
    return Handshake.objects.select_related("connection").get(pk=arguments["handshake"])


def _answer(arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None) -> Any:
    return handshake_answer(handshake=_handshake(arguments), verb=arguments["verb"], actor=actor, request=request)


def _is_billing(planned: PlannedAction) -> bool:
    handshake = planned.arguments.get("handshake")
    return isinstance(handshake, Handshake) and handshake.is_billing_transfer


def _handshake_deadline(arguments: dict[str, Any]) -> datetime | None:
    return _handshake(arguments).answer_by()


def _handshake_moot(connection: AwsConnection, arguments: dict[str, Any], refresh: bool) -> str:
    handshake = _handshake(arguments)
    if refresh:
        try:
            resync_handshake(handshake)  # DescribeHandshake: a read, never the answer itself
        except aws.AwsError:
            return ""  # AWS could not say; the service's own guard and AWS decide on approval
        handshake.refresh_from_db()
    if handshake.vanished_at is not None:
        return "AWS no longer lists the invitation."
    if not handshake.is_open:
        return f"The invitation is now {handshake.state.lower()} in AWS."
    return ""


# --- billing transfers: invite, terminate ---------------------------------------------------------


def _invitation(arguments: dict[str, Any]) -> dict[str, Any]:
    """What every invitation sends besides its own: the target as named, the notes and the tags."""
    return {
        "target_id": arguments["target_id"],
        "target_type": arguments["target_type"],
        "notes": arguments.get("notes") or "",
        "tags": arguments.get("tags") or None,
    }


def _invite(arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None) -> Any:
    return transfer_invite(
        connection=connection,
        actor=actor,
        source_name=arguments["source_name"],
        start_at=_moment(arguments["start_at"]),
        request=request,
        **_invitation(arguments),
    )


def _invite_deadline(arguments: dict[str, Any]) -> datetime:
    # The chosen start month is offered (and accepted by the service) only until then.
    return accept_by(_moment(arguments["start_at"])) - OFFER_MARGIN


def _transfer(arguments: dict[str, Any]) -> ResponsibilityTransfer:
    return ResponsibilityTransfer.objects.select_related("connection").get(pk=arguments["transfer"])


def _terminate(arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None) -> Any:
    return transfer_terminate(
        transfer=_transfer(arguments), actor=actor, end_at=_moment(arguments["end_at"]), request=request
    )


def _terminate_moot(connection: AwsConnection, arguments: dict[str, Any], refresh: bool) -> str:
    transfer = _transfer(arguments)
    if refresh:
        try:
            resync_transfer(transfer)  # DescribeResponsibilityTransfer
        except aws.AwsError:
            return ""
        transfer.refresh_from_db()
    if transfer.vanished_at is not None:
        return "AWS no longer lists the billing transfer."
    if not transfer.can_terminate():
        return f"The billing transfer is already {transfer.status.lower()}."
    return ""


# --- the organization: invite an account, enable all features ------------------------------------


def _invite_account(
    arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None
) -> Any:
    return organization_invite_account(connection=connection, actor=actor, request=request, **_invitation(arguments))


def _enable_all_features(
    arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None
) -> Any:
    return organization_enable_all_features(connection=connection, actor=actor, request=request)


def _all_features_moot(connection: AwsConnection, arguments: dict[str, Any], refresh: bool) -> str:
    connection.refresh_from_db(fields=["feature_set"])
    return "The organization already has all features." if connection.feature_set == "ALL" else ""


# --- the rule itself: loosening it is a request too -----------------------------------------------


def _rule_change(
    arguments: dict[str, Any], *, connection: AwsConnection, actor: Any, request: HttpRequest | None
) -> Any:
    return rule_update(
        connection=connection,
        actor=actor,
        actions=list(arguments["actions"]),
        checker_role=arguments["checker_role"],
        request=request,
    )


def _rule_moot(connection: AwsConnection, arguments: dict[str, Any], refresh: bool) -> str:
    rule = ApprovalRule.objects.filter(connection=connection).first()
    if rule is None:
        return "The connection has no rule any more."
    if rule.actions == list(arguments["actions"]) and rule.checker_role == arguments["checker_role"]:
        return "The rule already reads so."
    if str(rule.changed_at.isoformat()) != arguments.get("rule_changed_at"):
        return "The rule was changed since this was asked; ask again from the rule as it is now."
    return ""


COVERED: dict[str, Covered] = {
    "handshake.accept": Covered(
        "Accept a billing-transfer invitation",
        Role.APPROVER,
        _answer,
        applies=_is_billing,
        deadline=_handshake_deadline,
        moot=_handshake_moot,
    ),
    "handshake.decline": Covered(
        "Decline a billing-transfer invitation",
        Role.APPROVER,
        _answer,
        applies=_is_billing,
        deadline=_handshake_deadline,
        moot=_handshake_moot,
    ),
    "transfer.invite": Covered(
        "Invite an organization to transfer its billing", Role.OPERATOR, _invite, deadline=_invite_deadline
    ),
    "transfer.terminate": Covered(
        "End (terminate) a billing transfer",
        Role.ADMIN,
        _terminate,
        deadline=lambda arguments: _moment(arguments["end_at"]),
        moot=_terminate_moot,
    ),
    "organization.invite_account": Covered("Invite an account to the organization", Role.OPERATOR, _invite_account),
    "organization.enable_all_features": Covered(
        "Enable all features", Role.ADMIN, _enable_all_features, moot=_all_features_moot
    ),
}

# What an admin may put under the rule (the rule's own change is always covered while it is on).
RULE_CHOICES = [(name, covered.label) for name, covered in COVERED.items()]

RULE_CHANGE_COVERED = Covered(
    "Loosen the two-person rule", Role.ADMIN, _rule_change, applies=lambda planned: True, moot=_rule_moot
)


def covered(action: str) -> Covered:
    return RULE_CHANGE_COVERED if action == RULE_CHANGE else COVERED[action]
