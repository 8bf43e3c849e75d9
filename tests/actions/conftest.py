"""Scenes for the action tests, built through the API in orgsim (real boto3 over HTTP).

- `payer`: 111111111111's organization (sim_org) and its connection, synced.
- `source`: a second organization (333333333333) and its connection, synced.
- `billing_invitation`: the payer has invited the source to a billing transfer; both synced. The
  source's received handshake row and the payer's inbound transfer row are returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from handshakes.models import Direction, Handshake
from orgportal.models import AwsConnection
from orgportal.sync import sync_connection
from tests.conftest import SimOrg, create_org
from transfers.services import start_choices

SOURCE_ACCOUNT_ID = "333333333333"


def calls_of(sim: Any, operation: str) -> int:
    """How many times orgsim served `operation` since the last reset of its call log."""
    calls = sim.calls()
    if isinstance(calls, dict):  # orgsim's counters: {"by_operation": {...}, "calls": [...], "total": n}
        return int(calls.get("by_operation", {}).get(operation, 0))
    return sum(1 for call in calls if (call.get("operation") if isinstance(call, dict) else call[0]) == operation)


@dataclass
class Side:
    org: SimOrg
    connection: AwsConnection

    def sync(self) -> None:
        run = sync_connection(self.connection)
        assert run is not None and run.status == "ok", getattr(run, "error", run)
        self.connection.refresh_from_db()


@pytest.fixture
def payer(sim_org: SimOrg, make_connection: Callable[..., AwsConnection]) -> Side:
    side = Side(
        sim_org,
        make_connection(name="Payer", account_id=sim_org.management_account_id, endpoint_url=sim_org.sim.endpoint),
    )
    side.sync()
    return side


@pytest.fixture
def source(orgsim: Any, payer: Side, make_connection: Callable[..., AwsConnection]) -> Side:
    org = create_org(orgsim, SOURCE_ACCOUNT_ID)
    side = Side(org, make_connection(name="Source", account_id=SOURCE_ACCOUNT_ID, endpoint_url=orgsim.endpoint))
    side.sync()
    return side


@dataclass
class Invitation:
    payer: Side
    source: Side
    handshake: Handshake  # the source's received TRANSFER_RESPONSIBILITY handshake


@pytest.fixture
def billing_invitation(orgsim: Any, payer: Side, source: Side) -> Invitation:
    payer.org.client.invite_organization_to_transfer_responsibility(
        Type="BILLING",
        Target={"Id": SOURCE_ACCOUNT_ID, "Type": "ACCOUNT"},
        SourceName="Source org billing",
        StartTimestamp=start_choices()[0],
    )
    payer.sync()
    source.sync()
    handshake = Handshake.objects.get(
        connection=source.connection, action="TRANSFER_RESPONSIBILITY", direction=Direction.RECEIVED
    )
    orgsim.reset_calls()
    return Invitation(payer=payer, source=source, handshake=handshake)
