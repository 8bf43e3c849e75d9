"""The control API, faults, the state file, the scale scenario and the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orgsim.testing import Sim, running
from tests.orgsim.conftest import Org, error_of

ROOT = Path(__file__).resolve().parents[2]


def test_calls_are_counted_per_operation_and_account(sim: Any, org: Org) -> None:
    sim.reset_calls()
    org.client.describe_organization()
    org.client.list_accounts()
    org.client.list_accounts()
    counts = sim.calls()
    assert counts["by_operation"] == {"DescribeOrganization": 1, "ListAccounts": 2}
    assert {"operation": "ListAccounts", "account": org.account_id, "count": 2} in counts["calls"]
    sim.reset_calls()
    assert sim.calls()["total"] == 0


def test_latency_and_throttling_per_operation(sim: Any, org: Org) -> None:
    sim.set_faults("DescribeOrganization", latency_ms=200)
    started = time.monotonic()
    org.client.describe_organization()
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    org.client.list_roots()
    assert time.monotonic() - started < 0.2
    sim.set_faults(throttle=1.0)
    with pytest.raises(ClientError) as excinfo:
        org.client.list_roots()
    assert error_of(excinfo)[0] == "TooManyRequestsException"
    sim.clear_faults()
    org.client.list_roots()


def test_aws_token_buckets(sim: Any, org: Org) -> None:
    sim.set_faults("DeclineHandshake", throttle="aws")  # 1 request/s, burst 1, per account
    client = org.client
    codes = []
    for _ in range(3):
        try:
            client.decline_handshake(HandshakeId="h-000000000000")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes[0] == "HandshakeNotFoundException" and "TooManyRequestsException" in codes[1:]


def test_reset_summary_dump_clock(sim: Any) -> None:
    summary = sim.reset("demo", seed=0)
    partner = next(o for o in summary["organizations"] if o["management_account_id"] == "210987654321")
    assert partner["name"] == "Northwind Cloud Partners" and partner["access_key_id"] == "210987654321"
    assert partner["management_account_email"] and partner["members"]
    again = sim.reset("demo", seed=0)
    assert [o["id"] for o in again["organizations"]] == [o["id"] for o in summary["organizations"]]
    before = sim.now()
    assert sim.advance(3600) >= before + 3600
    assert "handshakes" in sim.dump()


def test_state_file_saves_atomically_and_reloads(tmp_path: Path) -> None:
    path = str(tmp_path / "orgsim.json")
    with running(scenario="empty", state_file=path) as first:
        client = first.client("123456789012")
        org = client.create_organization()["Organization"]
        handshake = client.invite_account_to_organization(Target={"Id": "210000000001", "Type": "ACCOUNT"})["Handshake"]
        first.control("POST", "save")
    assert os.path.exists(path) and not [p for p in os.listdir(tmp_path) if p.startswith(".orgsim-")]
    with running(scenario="demo", state_file=path) as second:
        client = second.client("123456789012")
        assert client.describe_organization()["Organization"]["Id"] == org["Id"]
        assert (
            second.client("210000000001").accept_handshake(HandshakeId=handshake["Id"])["Handshake"]["State"]
            == "ACCEPTED"
        )
        next_page = client.list_handshakes_for_organization()["Handshakes"]
        assert [h["Id"] for h in next_page] == [handshake["Id"]]


def test_scale_seeds_100k_handshakes_in_seconds() -> None:
    started = time.monotonic()
    with running(scenario="scale", seed=7, orgs=50, handshakes=100_000, transfers=2_000) as sim:
        assert time.monotonic() - started < 20
        summary = sim.summary()
        assert summary["counts"]["handshakes"] >= 99_000
        management = summary["organizations"][0]["management_account_id"]
        page = sim.client(management).list_handshakes_for_organization(MaxResults=20)
        assert len(page["Handshakes"]) == 20 and page["NextToken"]
        inbound = sim.client(management).list_inbound_responsibility_transfers(Type="BILLING", MaxResults=20)
        assert inbound["ResponsibilityTransfers"]
    with (
        running(scenario="scale", seed=7, orgs=5, handshakes=1_000, transfers=50) as a,
        running(scenario="scale", seed=7, orgs=5, handshakes=1_000, transfers=50) as b,
    ):
        assert [o["id"] for o in a.summary()["organizations"]] == [o["id"] for o in b.summary()["organizations"]]


def test_command_line_prints_endpoint_and_accounts() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "orgsim", "--port", "0", "--scenario", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        assert match, first
        lines = [process.stdout.readline() for _ in range(6)]
        assert any("210987654321" in line and "Northwind Cloud Partners" in line for line in lines), lines
        sim = Sim(match.group(1))
        assert sim.client("210987654321").describe_organization()["Organization"]["MasterAccountId"] == "210987654321"
        assert sim.summary()["scenario"] == "demo"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_concurrent_callers_are_served_safely(sim: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.orgsim.conftest import make_org

    def build(_: int) -> tuple[str, int]:
        org = make_org(sim)
        for _ in range(4):
            org.add_member()
        return org.account_id, len(org.client.list_accounts()["Accounts"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(build, range(8)))
    assert all(count == 5 for _, count in results)
    assert len({account for account, _ in results}) == 8
