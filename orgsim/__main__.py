"""The command line: ``python -m orgsim --port 4566 --scenario demo`` serves until interrupted;
``python -m orgsim coverage [--write]`` prints (or writes into orgsim/README.md) the operation coverage."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from orgsim import coverage
from orgsim.engine import Simulator
from orgsim.scenarios import SCENARIOS
from orgsim.server import OrgsimHTTPServer


def _throttle(text: str) -> float | str:
    return text if text == "aws" else float(text)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, named as `Simulator` takes them (a scale size left out is the scenario's own)."""
    parser = argparse.ArgumentParser(
        prog="python -m orgsim", description="A local AWS Organizations endpoint for boto3 and the AWS CLI."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--scenario", choices=SCENARIOS, default="demo")
    parser.add_argument("--orgs", type=int, default=argparse.SUPPRESS, help="scale: number of organizations (200)")
    parser.add_argument(
        "--handshakes", type=int, default=argparse.SUPPRESS, help="scale: number of handshakes (100000)"
    )
    parser.add_argument("--transfers", type=int, default=argparse.SUPPRESS, help="scale: number of transfers (10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--state",
        dest="state_file",
        metavar="FILE",
        default=None,
        help="save the world here (atomically) and reload it on start",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--throttle", type=_throttle, default=None, help="'aws' for AWS's token buckets, or a probability such as 0.1"
    )
    parser.add_argument("--quotas", choices=("default", "aws"), default="default")
    return parser.parse_args(argv)


def table(summary: dict[str, Any]) -> str:
    rows = [("organization", "name", "management account", "email", "members", "access key id")]
    for org in summary["organizations"]:
        rows.append(
            (
                org["id"],
                org["name"],
                org["management_account_id"],
                org["management_account_email"],
                str(len(org["members"])),
                org["access_key_id"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["coverage"]:
        if "--write" in argv:
            coverage.write()
        else:
            print(coverage.table())
        return 0
    options = vars(parse(argv))
    host, port = options.pop("host"), options.pop("port")
    sim = Simulator(**options)
    server = OrgsimHTTPServer((host, port), sim)
    summary = sim.summary()
    organizations = summary["organizations"]
    print(f"orgsim listening on {server.endpoint}", flush=True)
    print(
        f"scenario={summary['scenario']} seed={summary['seed']} quotas={summary['quotas']} "
        + " ".join(f"{k}={v}" for k, v in summary["counts"].items())
    )
    print("Credentials: access key id = the 12-digit account id, any secret key, region us-east-1.")
    if organizations:
        shown = {**summary, "organizations": organizations[:50]}
        print(table(shown))
        if len(organizations) > 50:
            print(f"... and {len(organizations) - 50} more (GET {server.endpoint}/_orgsim/summary)")
    else:
        print("No organizations yet: any 12-digit access key is a standalone account that can call CreateOrganization.")
    print(
        f"Control API: {server.endpoint}/_orgsim/summary, /clock, /faults, /reset, /state, /calls, /quotas", flush=True
    )

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
