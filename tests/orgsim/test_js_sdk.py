"""A second, independent client: the AWS SDK for JavaScript v3 (``@aws-sdk/client-organizations``,
pinned in tests/orgsim/js/package.json) runs the billing-transfer lifecycle and its error cases
against orgsim, checking typed errors (``err.name``, ``err.Reason``), request ids
(``$metadata.requestId``) and dates (``Date`` objects). It shares no code with botocore, so what it
accepts is the wire protocol, not one SDK's reading of it.

CI installs the package (``npm ci --prefix tests/orgsim/js``); here it is installed when missing.
Without node or the package this test fails and says why: it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orgsim.testing import Sim
from tests.orgsim.conftest import new_account_id

JS = Path(__file__).with_name("js")
PACKAGE = JS / "node_modules" / "@aws-sdk" / "client-organizations" / "package.json"


def _sdk_installed() -> str:
    """The node executable, once the pinned SDK is in tests/orgsim/js/node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        pytest.fail("node is not installed: the JS SDK test needs node 20+ and npm (apt-get install nodejs npm)")
    if not PACKAGE.exists():
        if npm is None:
            pytest.fail("npm is not installed: run `npm ci --prefix tests/orgsim/js` with node's npm")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=600, check=False
        )
        if installed.returncode != 0 or not PACKAGE.exists():
            pytest.fail(f"`npm ci --prefix tests/orgsim/js` failed:\n{installed.stdout}\n{installed.stderr}")
    return node


def test_js_sdk_runs_the_transfer_lifecycle_with_typed_errors_request_ids_and_dates(sim: Sim) -> None:
    node = _sdk_installed()
    env = {**os.environ, "ORGSIM_ENDPOINT": sim.endpoint, "PAYER": new_account_id(), "SOURCE": new_account_id()}
    run = subprocess.run(
        [node, "--no-warnings", "lifecycle.mjs"],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"the JS SDK lifecycle failed:\n{run.stdout}\n{run.stderr}"
    assert run.stdout.strip().startswith("lifecycle ok:"), run.stdout
    checks = int(run.stdout.split("lifecycle ok:")[1].split()[0])
    assert checks >= 80, run.stdout
    # Every call went to orgsim, as the JS SDK sent it: the transfer calls and the handshake calls.
    by_operation = sim.calls()["by_operation"]
    assert by_operation["InviteOrganizationToTransferResponsibility"] >= 4
    assert by_operation["TerminateResponsibilityTransfer"] == 2
