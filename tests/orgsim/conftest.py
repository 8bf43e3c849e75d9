"""Fixtures for the orgsim tests: one in-process server per session, a fresh world per test.

No Django here: orgsim stands alone. ``org`` builds an organization through the API in the
empty scenario; ``call`` runs a boto3 call and checks the answer against the model's output shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orgsim.testing import Sim, running
from tests.orgsim.shapes import check_output

_accounts = itertools.count(1)


@pytest.fixture(scope="session")
def sim_server() -> Iterator[Sim]:
    with running(scenario="empty", seed=0) as sim:
        yield sim


@pytest.fixture
def sim(sim_server: Sim) -> Iterator[Sim]:
    sim_server.reset("empty", seed=0, quotas="default")
    sim_server.clear_faults()
    sim_server.reset_calls()
    yield sim_server
    sim_server.clear_faults()


@pytest.fixture
def demo(sim_server: Sim) -> Iterator[Sim]:
    sim_server.reset("demo", seed=0, quotas="default")
    sim_server.clear_faults()
    sim_server.reset_calls()
    yield sim_server


def new_account_id() -> str:
    return f"{300000000000 + next(_accounts):012d}"


def call(client: Any, method: str, **params: Any) -> dict[str, Any]:
    """A boto3 call whose answer is checked against the model's output shape."""
    response = getattr(client, method)(**params)
    check_output(client.meta.method_to_api_mapping[method], response)
    assert response["ResponseMetadata"]["RequestId"]
    return response


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str | None]:
    err = excinfo.value.response["Error"]
    return err["Code"], excinfo.value.response.get("Reason") or err.get("Reason")


@dataclass
class Org:
    sim: Sim
    account_id: str
    id: str
    root_id: str
    client: Any
    members: list[str] = field(default_factory=list)

    def add_member(self, account_id: str | None = None) -> str:
        account_id = account_id or new_account_id()
        handshake = self.client.invite_account_to_organization(Target={"Id": account_id, "Type": "ACCOUNT"})[
            "Handshake"
        ]
        self.sim.client(account_id).accept_handshake(HandshakeId=handshake["Id"])
        self.members.append(account_id)
        return account_id


def make_org(sim: Sim, account_id: str | None = None, feature_set: str = "ALL") -> Org:
    account_id = account_id or new_account_id()
    client = sim.client(account_id)
    org = client.create_organization(FeatureSet=feature_set)["Organization"]
    root = client.list_roots()["Roots"][0]
    return Org(sim=sim, account_id=account_id, id=org["Id"], root_id=root["Id"], client=client)


@pytest.fixture
def org(sim: Sim) -> Org:
    return make_org(sim)


def next_month_start(now: float, months: int = 1) -> datetime:
    moment = datetime.fromtimestamp(now, UTC)
    index = moment.year * 12 + moment.month - 1 + months
    start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    if (start.timestamp() - now) < 2 * 86400:
        return next_month_start(now, months + 1)
    return start
