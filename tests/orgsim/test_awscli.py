"""The AWS CLI drives a whole billing-transfer lifecycle against orgsim: invite, list both sides, accept, rename, terminate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.orgsim.conftest import make_org, next_month_start


def aws(sim: Any, account_id: str, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": account_id,
        "AWS_SECRET_ACCESS_KEY": "orgsim-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "organizations", *args, "--endpoint-url", sim.endpoint, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_cli_billing_transfer_lifecycle(sim: Any) -> None:
    payer, source = make_org(sim), make_org(sim)
    start = next_month_start(sim.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    handshake = aws(
        sim,
        payer.account_id,
        "invite-organization-to-transfer-responsibility",
        "--type",
        "BILLING",
        "--target",
        f"Id={source.account_id},Type=ACCOUNT",
        "--start-timestamp",
        start,
        "--source-name",
        "Customer via CLI",
    )["Handshake"]
    rt = next(r["Value"] for r in handshake["Resources"] if r["Type"] == "RESPONSIBILITY_TRANSFER")
    inbound = aws(sim, payer.account_id, "list-inbound-responsibility-transfers", "--type", "BILLING")[
        "ResponsibilityTransfers"
    ]
    outbound = aws(sim, source.account_id, "list-outbound-responsibility-transfers", "--type", "BILLING")[
        "ResponsibilityTransfers"
    ]
    assert [t["Id"] for t in inbound] == [rt] == [t["Id"] for t in outbound]
    accepted = aws(sim, source.account_id, "accept-handshake", "--handshake-id", handshake["Id"])["Handshake"]
    assert accepted["State"] == "ACCEPTED"
    renamed = aws(sim, payer.account_id, "update-responsibility-transfer", "--id", rt, "--name", "Renamed via CLI")[
        "ResponsibilityTransfer"
    ]
    assert renamed["Name"] == "Renamed via CLI" and renamed["Status"] == "ACCEPTED"
    ended = aws(sim, payer.account_id, "terminate-responsibility-transfer", "--id", rt)["ResponsibilityTransfer"]
    assert ended["Status"] == "WITHDRAWN" and ended["EndTimestamp"]
    assert (
        aws(sim, source.account_id, "describe-responsibility-transfer", "--id", rt)["ResponsibilityTransfer"]["Status"]
        == "WITHDRAWN"
    )
