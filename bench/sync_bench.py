"""Sync benchmark: one organization with 10,000 handshakes and 1,000 transfers behind 20 ms of
latency per call. Prints the AWS calls per list (must equal ceil(n/20)), the wall time of our
sync against a plain boto3 loop paging the same lists from the same orgsim in the same run (the
ratio; target <= 1.15), and the rows a second, unchanged sync writes (must be 0).

    .venv/bin/python bench/sync_bench.py [--handshakes 10000] [--transfers 1000] [--latency-ms 20]

Runs on a temporary SQLite database unless DATABASE_URL is set (then that database is migrated
and keeps the bench connection). orgsim runs in its own process, as it does beside the portal.
"""

from __future__ import annotations

import argparse
import math
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    from _django import setup

    setup("sync-bench")


@contextmanager
def orgsim_process(**sizes: int) -> Iterator[Any]:
    """`python -m orgsim --scenario scale` on a free port; a control handle (orgsim.testing.Sim)."""
    from orgsim.testing import Sim

    args = [sys.executable, "-m", "orgsim", "--scenario", "scale", "--port", "0", "--seed", "0"]
    for name, value in sizes.items():
        args += [f"--{name}", str(value)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"orgsim did not start: {line!r}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain its output
        yield Sim(line.rsplit(" ", 1)[1].strip())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def plain_boto3(
    endpoint: str, account_id: str, lists: list[tuple[str, dict[str, Any]]], singles: list[tuple[str, dict[str, Any]]]
) -> tuple[float, dict[str, int], dict[str, int]]:
    """The baseline: the same calls with boto3 alone, no database; seconds, pages and items per list."""
    import boto3
    from botocore import xform_name
    from botocore.config import Config

    client = boto3.client(
        "organizations",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=account_id,
        aws_secret_access_key="bench",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    output = client.meta.service_model
    pages: dict[str, int] = {}
    items: dict[str, int] = {}
    started = time.perf_counter()
    for operation, params in singles:
        getattr(client, xform_name(operation))(**params)
    for operation, params in lists:
        method = getattr(client, xform_name(operation))
        result_key = next(
            name
            for name, shape in output.operation_model(operation).output_shape.members.items()
            if shape.type_name == "list"
        )
        request = {"MaxResults": 20, **params}
        while True:
            response = method(**request)
            pages[operation] = pages.get(operation, 0) + 1
            items[operation] = items.get(operation, 0) + len(response.get(result_key, []))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return time.perf_counter() - started, pages, items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    setup_django()
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from handshakes.models import Handshake
    from orgportal import aws
    from orgportal.models import Account, AwsConnection, AwsCredentials, CredentialMode
    from orgportal.sync import sync_connection
    from transfers.models import ResponsibilityTransfer

    print(f"orgsim scale: {args.handshakes} handshakes, {args.transfers} transfers, {args.latency_ms:g} ms per call")
    # The scale scenario spreads its objects over its organizations: with two of them, the first
    # one sees about `handshakes` handshakes and `transfers` transfers (it pays for some, is paid
    # for by others). The figures below are what that organization actually lists.
    # orgsim runs in its own process, as it does beside the portal: its CPU is not ours.
    with orgsim_process(orgs=2, handshakes=2 * args.handshakes, transfers=2 * args.transfers) as sim:
        account_id = sim.summary()["organizations"][0]["management_account_id"]
        sim.set_faults(latency_ms=args.latency_ms)

        credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account_id)
        credentials.secret_access_key = "bench"
        credentials.save()
        connection = AwsConnection.objects.create(
            name=f"bench {secrets.token_hex(4)}", endpoint_url=sim.endpoint, read_credentials=credentials
        )

        # Note every call our sync makes (operation and first-page parameters) so the baseline
        # pages exactly the same lists.
        lists: list[tuple[str, dict[str, Any]]] = []
        singles: list[tuple[str, dict[str, Any]]] = []

        def note(params: dict[str, Any], model: Any, **_: Any) -> None:
            if "NextToken" in params:
                return
            plain = {k: v for k, v in params.items() if k != "MaxResults"}
            (lists if model.name.startswith("List") else singles).append((model.name, plain))

        client = aws.client_for(connection)
        client.meta.events.register("provide-client-params.organizations", note)

        sim.reset_calls()
        started = time.perf_counter()
        run = sync_connection(connection)
        ours = time.perf_counter() - started
        client.meta.events.unregister("provide-client-params.organizations", note)
        assert run is not None and run.status == "ok", run and run.error
        our_calls = dict(sim.calls()["by_operation"])
        baseline, baseline_pages, listed = plain_boto3(sim.endpoint, account_id, lists, singles)

        handshakes = Handshake.objects.filter(connection=connection).count()
        transfers = ResponsibilityTransfer.objects.filter(connection=connection).count()
        accounts = Account.objects.filter(connection=connection).count()
        print(
            f"\nfirst sync: {run.calls} AWS calls, {run.pages} pages, {run.retries} retries, {run.throttles} throttled"
        )
        print(
            f"  stored: {accounts} accounts, {handshakes} handshakes, {transfers} transfers; {run.created} rows created"
        )
        print("\nAWS calls per list: ours, plain boto3, items listed, ceil(items/20)")
        ok = True
        for operation in sorted(baseline_pages):
            want = max(1, math.ceil(listed[operation] / 20))
            # Lists called more than once (e.g. per parent) are summed; each call ends on its own page.
            calls_of = sum(1 for op, _ in lists if op == operation)
            good = our_calls.get(operation, 0) == baseline_pages[operation] and (
                calls_of > 1 or baseline_pages[operation] == want
            )
            ok = ok and good
            print(
                f"  {operation:40s} {our_calls.get(operation, 0):6d} {baseline_pages[operation]:6d} "
                f"{listed[operation]:7d} {want if calls_of == 1 else '-':>6}  {'ok' if good else 'MISMATCH'}"
            )

        ratio = ours / baseline if baseline else float("inf")
        print(f"\nwall time: ours {ours:.2f} s, plain boto3 {baseline:.2f} s, ratio {ratio:.2f}x (target <= 1.15)")

        with CaptureQueriesContext(db) as queries:
            second = sync_connection(connection)
        assert second is not None and second.status == "ok", second and second.error
        written = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            and "orgportal_syncrun" not in q["sql"]
            and "orgportal_awsconnection" not in q["sql"]
        ]
        print(f"second, unchanged sync: {second.duration_seconds:.2f} s, {second.unchanged} unchanged, "
              f"{len(written)} write statements besides its SyncRun and the connection's status (must be 0)")  # fmt: skip
        ok = ok and not written and ratio <= 1.15
    print("\nRESULT:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
