"""orgsim list-call throughput over HTTP: a page of 20 out of 100 vs out of 100,000 handshakes.

Each figure is requests per second over one keep-alive HTTP connection, against a baseline of
the same server answering a fixed body of the same size (``POST /_orgsim/fixed``): the ratio
is what the list logic costs on top of HTTP. Pages are read at random positions deep in the
list (NextTokens made for them), so an index that scanned would show at 100,000.

    .venv/bin/python bench/orgsim_bench.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orgsim import paging
from orgsim.testing import running

TARGET = "AWSOrganizationsV20161128.ListHandshakesForOrganization"


def rate(endpoint: str, requests: list[tuple[str, dict[str, str], bytes]]) -> float:
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    started = time.perf_counter()
    for path, headers, body in requests:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, data[:200]
    elapsed = time.perf_counter() - started
    conn.close()
    return len(requests) / elapsed


def list_requests(sim: Any, n: int, seed: int) -> tuple[list[tuple[str, dict[str, str], bytes]], int]:
    summary = sim.summary()
    org = summary["organizations"][0]
    account = org["management_account_id"]
    seqs = sorted(h.seq for h in sim.simulator.state.handshakes.values() if f"org:{org['id']}" in h.index_keys)
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": TARGET,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20250101/us-east-1/organizations/aws4_request, SignedHeaders=host, Signature=bench",
    }
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        after = seqs[rng.randrange(max(1, len(seqs) - 21))]
        token = paging.encode({"o": "ListHandshakesForOrganization", "i": f"org:{org['id']}", "a": after})
        out.append(("/", headers, json.dumps({"MaxResults": 20, "NextToken": token}).encode()))
    return out, len(seqs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for size in (100, 100_000):
        started = time.perf_counter()
        with running(scenario="scale", seed=1, orgs=1, handshakes=size, transfers=0) as sim:
            seeded = time.perf_counter() - started
            requests, listed = list_requests(sim, args.requests, seed=size)
            fixed = [("/_orgsim/fixed", {"Content-Type": "application/json"}, b"{}")] * args.requests
            rate(sim.endpoint, requests[:200])  # warm up both paths
            rate(sim.endpoint, fixed[:200])
            # Rounds alternate baseline and list so both see the same machine; each keeps its best
            # round (interference from the rest of the machine only ever slows a round down).
            rounds = [(rate(sim.endpoint, fixed), rate(sim.endpoint, requests)) for _ in range(args.rounds)]
            baseline, listing = max(r[0] for r in rounds), max(r[1] for r in rounds)
            rows.append((size, listed, seeded, baseline, listing))
    print(
        f"{'handshakes':>10}  {'in org':>8}  {'seed s':>7}  {'fixed body req/s':>16}  {'list page req/s':>15}  {'list/fixed':>10}"
    )
    for size, listed, seeded, baseline, listing in rows:
        print(
            f"{size:>10,}  {listed:>8,}  {seeded:>7.2f}  {baseline:>16,.0f}  {listing:>15,.0f}  {listing / baseline:>10.2f}"
        )
    small, large = (listing / baseline for _, _, _, baseline, listing in rows)
    print(
        f"page of 20 out of 100,000 vs out of 100: {large / small:.2f}x the throughput, each against its own "
        "server's fixed-body baseline (1.00 = no cost for size)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
