"""Scenes for two-person approval: the action tests' orgsim scenes (payer, source, billing
invitation), the rule switched on for a connection, and the people on each side of a request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from orgportal.models import AwsConnection, Role
from tests.actions.conftest import Invitation, billing_invitation, payer, source  # noqa: F401 - fixtures, by name


def rule_on(connection: AwsConnection, *actions: str, checker_role: str = Role.APPROVER) -> Any:
    """Switch the two-person rule on for `actions` of `connection` (a local row, as an admin's form saves it)."""
    from approvals.models import ApprovalRule

    return ApprovalRule.objects.update_or_create(
        connection=connection, defaults={"actions": sorted(actions), "checker_role": checker_role}
    )[0]


@dataclass
class People:
    """april asks, bob approves (both approvers on the invited side); carol is a third approver."""

    april: Any
    bob: Any
    carol: Any

    def client(self, name: str) -> Client:
        client = Client()
        client.force_login(getattr(self, name))
        return client


@pytest.fixture
def people(billing_invitation: Invitation, make_user: Callable[..., Any]) -> People:  # noqa: F811 - the fixture
    connection = billing_invitation.source.connection
    return People(
        april=make_user("april", roles=[Role.APPROVER], connection=connection),
        bob=make_user("bob", roles=[Role.APPROVER], connection=connection),
        carol=make_user("carol", roles=[Role.APPROVER], connection=connection),
    )
