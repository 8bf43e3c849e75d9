"""The test-harness room: run orgsim in-process on a free port and drive it like a test would.

    from orgsim.testing import running

    with running(scenario="demo", seed=0) as sim:
        org = sim.client("210987654321").describe_organization()
        sim.advance(3 * 86400)            # move the clock
        sim.set_faults(operation="ListAccounts", throttle=0.5)
        sim.calls()                       # counts per operation and account

The control helpers go over HTTP to ``/_orgsim/`` like any other process would, so they also
work against a server started with ``python -m orgsim`` (``Sim(endpoint)``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from orgsim.engine import Simulator
from orgsim.server import OrgsimHTTPServer

_UNSET: Any = object()


class Sim:
    """A running orgsim: its endpoint, boto3 clients per account, and the control API."""

    def __init__(self, endpoint: str, simulator: Simulator | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.simulator = simulator  # in-process only; tests should prefer the HTTP helpers

    # --- AWS side ------------------------------------------------------------------------------

    def client(self, account_id: str, **boto_kwargs: Any) -> Any:
        """A real boto3 Organizations client acting as `account_id` (its access key id)."""
        config = boto_kwargs.pop("config", None) or Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            "organizations",
            region_name=boto_kwargs.pop("region_name", "us-east-1"),
            endpoint_url=boto_kwargs.pop("endpoint_url", self.endpoint),
            aws_access_key_id=account_id,
            aws_secret_access_key=boto_kwargs.pop("aws_secret_access_key", "orgsim-secret"),
            config=config,
            **boto_kwargs,
        )

    # --- control API -----------------------------------------------------------------------------

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method != "GET" else None
        request = urllib.request.Request(  # noqa: S310 - our own http endpoint
            f"{self.endpoint}/_orgsim/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own endpoint
            return json.loads(response.read())

    def advance(self, seconds: float) -> float:
        """Move the simulated clock forward; expiries and retention run. Returns the new time."""
        return float(self.control("POST", "clock", {"seconds": seconds})["now"])

    def now(self) -> float:
        return float(self.control("GET", "clock")["now"])

    def set_faults(
        self,
        operation: str | None = None,
        *,
        latency_ms: float = _UNSET,
        throttle: float | str | None = _UNSET,
        error_rate: float = _UNSET,
        empty_pages: float = _UNSET,
    ) -> dict[str, Any]:
        """Faults for one operation (or all when `operation` is None); only the given ones change."""
        values = {"latency_ms": latency_ms, "throttle": throttle, "error_rate": error_rate, "empty_pages": empty_pages}
        body = {k: v for k, v in values.items() if v is not _UNSET}
        body["operation"] = operation
        return dict(self.control("POST", "faults", body))

    def clear_faults(self) -> dict[str, Any]:
        return dict(self.control("POST", "faults/clear"))

    def reset(self, scenario: str | None = None, **options: Any) -> dict[str, Any]:
        """Replace the world with a fresh scenario (seed, quotas, orgs, handshakes, transfers)."""
        return dict(self.control("POST", "reset", {"scenario": scenario, **options}))

    def set_quotas(self, account_id: str, **quotas: int) -> dict[str, Any]:
        """Quotas of a management account: inbound, outbound, chain, chain_transfers."""
        return dict(self.control("POST", "quotas", {"account_id": account_id, **quotas}))

    def trust_role(self, role_arn: str, external_id: str | None = None) -> dict[str, Any]:
        """Let STS AssumeRole hand out credentials for `role_arn` (its account), given `external_id`."""
        return dict(self.control("POST", "roles", {"role_arn": role_arn, "external_id": external_id}))

    def sts_client(self, account_id: str, **boto_kwargs: Any) -> Any:
        """A real boto3 STS client signing as `account_id` (or as temporary credentials passed in)."""
        credentials = {
            "aws_access_key_id": boto_kwargs.pop("aws_access_key_id", account_id),
            "aws_secret_access_key": boto_kwargs.pop("aws_secret_access_key", "orgsim-secret"),
        }
        return boto3.client(
            "sts",
            region_name=boto_kwargs.pop("region_name", "us-east-1"),
            endpoint_url=self.endpoint,
            **credentials,
            **boto_kwargs,
        )

    def calls(self) -> dict[str, Any]:
        return dict(self.control("GET", "calls"))

    def reset_calls(self) -> None:
        self.control("POST", "calls/reset")

    def summary(self) -> dict[str, Any]:
        return dict(self.control("GET", "summary"))

    def dump(self) -> dict[str, Any]:
        return dict(self.control("GET", "state"))


@contextmanager
def running(*, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[Sim]:
    """An orgsim HTTP server in this process on a free port, stopped on exit. `options` are the
    `Simulator`'s own (scenario, seed, quotas, latency_ms, throttle, state_file, sizes)."""
    simulator = Simulator(**options)
    server = OrgsimHTTPServer((host, port), simulator)
    server.start()
    try:
        yield Sim(server.endpoint, simulator)
    finally:
        server.shutdown()
        server.server_close()
        simulator.close()
