"""Fleet benchmark: a billing partner's 200 organizations (100,000 handshakes, 10,000 transfers in
all) synced by real Celery workers on PostgreSQL + Redis, each organization reached by assuming a
role through orgsim's STS, then the pages at 1,000,000 cached handshakes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orgportal_bench_fleet \\
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/fleet_bench.py

(1) one full sync of the fleet at 20 ms a call, 1 worker process vs 2 (same concurrency each):
    `speedup 1->2 workers: X.XXx` (target >= 1.8x). The question is whether a second worker
    process adds throughput when one is bound by AWS's latency, not by the CPU. On a small machine
    (2 cores running orgsim, PostgreSQL, Redis and the workers) one worker at concurrency 4 already
    keeps the CPU busy, so a second process could only split it and the figure would measure the
    machine. So the workers run at small concurrencies (FLEET_CONCURRENCY, "1,2": the comparison is
    made at each): a first sync costs about 19 ms of CPU per call on this machine, worker, orgsim
    and PostgreSQL together (writing the new rows, their history and audit events; botocore's
    parsing; orgsim's pages), so one worker at concurrency 2 already keeps 1.5 of 2 cores busy and
    a second can add only what is left, while at concurrency 1 one worker keeps about 0.8 busy and
    the second has a core of its own: that figure shows whether workers scale out.
(2) AWS's token buckets on at orgsim and the portal's shared budget in Redis, 2 workers:
    first the whole fleet, printed for what it is: 200 accounts allow far more calls per second
    than any CPU here can make, so that run is CPU-bound by construction; then the figure for the
    target, where AWS's buckets bind: FLEET_BIG_ORGS (3) organizations holding FLEET_BIG_HANDSHAKES
    (36,000) handshakes, synced at once. `throughput vs AWS rate limit: X.XXx` is, summed over the
    syncs, the least time AWS's buckets allow each sync's calls (per account and operation:
    (calls - burst) / rate, the slowest operation; the lists are paged at once) over the time
    the syncs took; then the throttled calls and `N failed syncs` (targets: >= 0.9x, 0). The
    budget holds 0.95 of AWS's rate (AWS_RATE_LIMIT_SHARE), so 0.95x is the ceiling by design.
(3) the inbox and the lists with 1,000,000 cached handshakes across the fleet, bulk-inserted
    (orgportal/bulk.py), p95 and queries, the queries compared with the same pages at the synced
    100,000 (targets: p95 <= 50 ms, the same query counts).

Sizes come from the environment for a quick run: FLEET_ORGS (200), FLEET_HANDSHAKES (100000),
FLEET_TRANSFERS (10000), FLEET_CACHED (1000000), FLEET_LATENCY_MS (20), FLEET_CONCURRENCY (1,2: per
worker process, the comparison made at each), FLEET_THROTTLED_CONCURRENCY (4), FLEET_BIG_ORGS (3), FLEET_BIG_HANDSHAKES
(36000), FLEET_REQUESTS (30 per page), FLEET_PARTS (123: which of the three to run); FLEET_EXPLAIN=1 prints
the plans of the pages' slower queries at the large size.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


ORGS = env_int("FLEET_ORGS", 200)
HANDSHAKES = env_int("FLEET_HANDSHAKES", 100_000)
TRANSFERS = env_int("FLEET_TRANSFERS", 10_000)
CACHED = env_int("FLEET_CACHED", 1_000_000)
LATENCY_MS = env_int("FLEET_LATENCY_MS", 20)
CONCURRENCIES = [int(c) for c in os.environ.get("FLEET_CONCURRENCY", "1,2").split(",")]
CONCURRENCY = CONCURRENCIES[-1]
THROTTLED_CONCURRENCY = env_int("FLEET_THROTTLED_CONCURRENCY", 4)
REQUESTS = env_int("FLEET_REQUESTS", 30)
BIG_ORGS = env_int("FLEET_BIG_ORGS", 3)
BIG_HANDSHAKES = env_int("FLEET_BIG_HANDSHAKES", 36_000)
PARTS = os.environ.get("FLEET_PARTS", "123")
PORTAL_ACCOUNT = "999999999999"  # the portal's own identity, which assumes the customers' roles
VAR_DIR = tempfile.mkdtemp(prefix="orgportal-fleet-bench-")


def start_orgsim(
    orgs: int = ORGS, handshakes: int = HANDSHAKES, transfers: int = TRANSFERS
) -> tuple[subprocess.Popen[str], str]:
    """orgsim in its own process (its own GIL), a scale world, 20 ms a call."""
    command = [sys.executable, "-m", "orgsim", "--port", "0", "--scenario", "scale", "--orgs", str(orgs)]
    command += ["--handshakes", str(handshakes), "--transfers", str(transfers), "--latency-ms", str(LATENCY_MS)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"orgsim listening on (\S+)", line)
        if match:
            return process, match.group(1)
    raise RuntimeError("orgsim did not start")


def start_workers(count: int, queue: str, concurrency: int, rate_limit: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "ORGPORTAL_VAR_DIR": VAR_DIR,
        "AWS_RATE_LIMIT": rate_limit,
        "AWS_ACCESS_KEY_ID": PORTAL_ACCOUNT,
        "AWS_SECRET_ACCESS_KEY": "portal-own-secret",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "celery", "-A", "orgportal", "worker", "-Q", queue, "--loglevel", "WARNING"]
    command += ["--concurrency", str(concurrency), "--without-heartbeat", "--without-gossip", "--without-mingle"]
    return [
        subprocess.Popen([*command, "-n", f"fleet{i}-{queue}@%h"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for i in range(count)
    ]


def stop(processes: list[Any]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_fleet(sim: Any, tag: str) -> list[Any]:
    """One role connection per organization of the scale world; orgsim trusts each role with the
    external id the portal generated for that connection (what a customer's trust policy holds)."""
    from orgportal.models import AwsConnection, AwsCredentials, CredentialMode

    fleet = []
    for org in sim.summary()["organizations"]:
        role_arn = f"arn:aws:iam::{org['management_account_id']}:role/OrgPortalAccess"
        connection = AwsConnection.objects.create(
            name=f"fleet-{tag} {org['name']}",
            endpoint_url=sim.endpoint,
            sync_enabled=False,  # no beat in the bench; the syncs are queued by hand
            read_credentials=AwsCredentials.objects.create(mode=CredentialMode.ASSUME_ROLE, role_arn=role_arn),
        )
        sim.trust_role(role_arn, connection.external_id)
        fleet.append(connection)
    return fleet


def drop_fleet(tag: str) -> None:
    from orgportal.models import AwsConnection, AwsCredentials

    connections = AwsConnection.objects.filter(name__startswith=f"fleet-{tag} ")
    credentials = list(connections.values_list("read_credentials_id", flat=True))
    connections.delete()
    AwsCredentials.objects.filter(pk__in=credentials).delete()


def sync_fleet(fleet: list[Any], *, workers: int, concurrency: int, rate_limit: str) -> dict[str, Any]:
    """Queue one sync per connection to `workers` fresh worker processes; wait for them all."""
    from django.db.models import Sum

    from orgportal.models import SyncRun
    from orgportal.tasks import sync_connection_task

    queue = f"fleet-{uuid.uuid4().hex[:8]}"
    processes = start_workers(workers, queue, concurrency, rate_limit)
    try:
        time.sleep(8)  # let the workers start (Django, celery) before the clock runs
        ids = [c.pk for c in fleet]
        SyncRun.objects.filter(connection_id__in=ids).delete()
        started = time.perf_counter()
        for pk in ids:
            sync_connection_task.apply_async(args=[pk, True], queue=queue)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            done = set(
                SyncRun.objects.filter(connection_id__in=ids, status="ok").values_list("connection_id", flat=True)
            )
            gave_up = SyncRun.objects.filter(connection_id__in=ids, status="failed").exclude(connection_id__in=done)
            if len(done) == len(ids) or (len(done) + gave_up.values("connection_id").distinct().count() == len(ids)):
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker died")
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        stop(processes)
    runs = SyncRun.objects.filter(connection_id__in=ids)
    totals = runs.aggregate(calls=Sum("calls"), throttles=Sum("throttles"), retries=Sum("retries"))
    return {
        "wall": wall,
        "ok": runs.filter(status="ok").count(),
        "failed": runs.filter(status="failed").count(),
        "calls": totals["calls"] or 0,
        "throttles": totals["throttles"] or 0,
        "retries": totals["retries"] or 0,
        "runs": list(runs.filter(status="ok")),
    }


def clear_cache(fleet: list[Any]) -> None:
    """Forget what the last sync cached, so the next one is a full first sync again."""
    from handshakes.models import Handshake
    from orgportal.models import Account
    from transfers.models import ResponsibilityTransfer

    ids = [c.pk for c in fleet]
    for model in (Handshake, ResponsibilityTransfer, Account):
        model.objects.filter(connection_id__in=ids).delete()


def bucket_bound(sim: Any, runs: list[Any]) -> tuple[float, float, list[str]]:
    """The least time (s), summed over the syncs, that AWS's buckets allow for their calls; the time
    the syncs took; and, per sync, its binding operation's calls per second over AWS's rate.

    Per account and operation, AWS lets `calls` through in no less than (calls - burst) / rate
    seconds; a sync is bound by its slowest operation (the lists are paged at once)."""
    from orgportal import ratelimit

    per_account: dict[str, dict[str, int]] = {}
    for call in sim.calls()["calls"]:
        if not call["operation"].startswith("sts:"):
            per_account.setdefault(call["account"], {})[call["operation"]] = call["count"]
    bound = spent = 0.0
    lines = []
    for run in runs:
        account = run.connection.account_id  # synced: the role's account
        slowest, binding = 0.0, ""
        for operation, count in per_account.get(account, {}).items():
            rate, burst = ratelimit.ACCOUNT_BUCKETS.get(operation, ratelimit.DEFAULT_BUCKET)
            if max(0.0, count - burst) / rate > slowest:
                slowest, binding = max(0.0, count - burst) / rate, operation
        took = run.duration_seconds or 0.0
        bound, spent = bound + slowest, spent + took
        if binding:
            count = per_account[account][binding]
            rate = ratelimit.ACCOUNT_BUCKETS.get(binding, ratelimit.DEFAULT_BUCKET)[0]
            lines.append(
                f"    {account} {binding}: {count} calls in {took:.1f} s = {count / took:.2f}/s "
                f"of AWS's {rate:g}/s ({count / took / rate:.2f}x; the bucket's least time {slowest:.1f} s)"
            )
    return bound, spent, lines


def big_throttled(tag: str) -> None:
    """(2) where AWS's buckets bind: BIG_ORGS organizations of BIG_HANDSHAKES handshakes in all,
    synced at once under orgsim's AWS buckets by 2 workers sharing the budget in Redis."""
    process, endpoint = start_orgsim(BIG_ORGS, BIG_HANDSHAKES, BIG_ORGS * 10)
    try:
        from orgsim.testing import Sim

        sim = Sim(endpoint)
        fleet = make_fleet(sim, f"{tag}-big")
        sim.set_faults(None, throttle="aws")
        sim.reset_calls()
        r = sync_fleet(fleet, workers=2, concurrency=THROTTLED_CONCURRENCY, rate_limit="all")
        bound, spent, lines = bucket_bound(sim, r["runs"])
        ratio = bound / spent if spent else 0.0
        print(
            f"(2) AWS throttling on, {len(fleet)} organizations of {BIG_HANDSHAKES // max(1, len(fleet)):,} handshakes, "
            f"2 workers x concurrency {THROTTLED_CONCURRENCY}: {r['ok']}/{len(fleet)} ok in {r['wall']:.1f} s, "
            f"{r['calls']:,} calls"
        )
        print("\n".join(lines))
        print(
            f"throughput vs AWS rate limit: {ratio:.2f}x (the buckets allow the syncs' calls in {bound:.0f} s, "
            f"they took {spent:.0f} s; target >= 0.9x)"
        )
        print(f"throttled calls: {r['throttles']} (retries {r['retries']})")
        print(f"{r['failed']} failed syncs")
    finally:
        stop([process])
        drop_fleet(f"{tag}-big")


def seed_cached(fleet: list[Any], total: int, rng: random.Random) -> int:
    """Bulk-insert cached handshakes until the fleet holds `total`; how many were added."""
    from django.db import transaction
    from django.utils import timezone

    from handshakes.models import Handshake
    from orgportal import bulk

    existing = Handshake.objects.filter(connection__in=fleet).count()
    missing = max(0, total - existing)
    now = timezone.now()
    states = ["ACCEPTED"] * 5 + ["DECLINED", "CANCELED"] + ["EXPIRED"] * 2 + ["OPEN"]
    batch: list[Handshake] = []
    for n in range(missing):
        connection = fleet[n % len(fleet)]
        state = rng.choice(states)
        requested = now - timedelta(minutes=rng.randint(1, 700 * 24 * 60))
        counterparty = f"{600000000000 + n:012d}"
        batch.append(
            Handshake(
                connection=connection,
                handshake_id=f"h-zz{n:08d}",
                arn=f"arn:aws:organizations::{connection.account_id}:handshake/h-{n:010x}",
                action="INVITE",
                state=state,
                requested_at=requested,
                expires_at=requested + timedelta(days=15),
                parties=[{"Id": counterparty, "Type": "ACCOUNT"}],
                resources=[{"Type": "ACCOUNT", "Value": counterparty}],
                direction="sent",
                counterparty=counterparty,
                first_seen_at=requested,
                changed_at=requested,
                vanished_at=None if state == "OPEN" else now - timedelta(days=1),
                fingerprint=secrets.token_hex(16),
            )
        )
        if len(batch) == 20_000:
            with transaction.atomic():
                bulk.insert(batch)
            batch = []
    with transaction.atomic():
        bulk.insert(batch)
    return missing


def measure_pages(user: Any) -> dict[str, dict[str, Any]]:
    from django.test import Client
    from django.urls import reverse
    from pages_bench import measure

    client = Client()
    client.force_login(user)
    hs, rt = reverse("handshake_list"), reverse("transfer_list")
    cases = {
        "inbox": reverse("inbox"),
        "handshakes: no filter": hs,
        "handshakes: state=OPEN": f"{hs}?state=OPEN",
        "handshakes: open, received, by expiry": f"{hs}?state=OPEN&state=REQUESTED&direction=received&sort=expires",
        "handshakes: search h-id prefix": f"{hs}?q=h-00000123",
        "transfers: no filter": rt,
        "transfers: status=ACCEPTED": f"{rt}?status=ACCEPTED",
    }
    return {label: measure(client, url, REQUESTS) for label, url in cases.items()}


def explain_slowest(user: Any, over_ms: float = 3.0) -> None:
    """FLEET_EXPLAIN=1: each page's queries slower than `over_ms`, with PostgreSQL's plan."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    for url in (reverse("inbox"), reverse("handshake_list"), reverse("transfer_list")):
        client.get(url, secure=True)
        with CaptureQueriesContext(connection) as captured:
            client.get(url, secure=True)
        for query in captured.captured_queries:
            if float(query["time"]) * 1000 >= over_ms:
                print(f"{url}: {float(query['time']) * 1000:.0f} ms: {query['sql'][:160]}")
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN ANALYZE " + query["sql"])
                    print("\n".join("    " + row[0][:150] for row in cursor.fetchall()))


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def main() -> int:
    from _django import setup

    os.environ.setdefault("ORGPORTAL_VAR_DIR", VAR_DIR)
    os.environ["AWS_ACCESS_KEY_ID"] = PORTAL_ACCOUNT
    os.environ["AWS_SECRET_ACCESS_KEY"] = "portal-own-secret"
    setup("fleet-bench", static=True)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection as db

    from orgportal.models import Grant, Role
    from orgsim.testing import Sim

    if not settings.REDIS_URL or db.vendor != "postgresql":
        print("note: the fleet bench is meant for PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    started = time.perf_counter()
    orgsim, endpoint = start_orgsim()
    sim = Sim(endpoint)
    counts = sim.summary()["counts"]
    print(f"orgsim scale: {ORGS} organizations, {counts} in {time.perf_counter() - started:.1f} s at {endpoint}")
    tag = secrets.token_hex(3)
    user = None
    try:
        fleet = make_fleet(sim, tag)

        # (1) 1 worker vs 2, the same concurrency each, 20 ms a call, no throttling.
        for concurrency in CONCURRENCIES if "1" in PARTS else []:
            results = {}
            for workers in (1, 2):
                clear_cache(fleet)
                sim.reset_calls()
                results[workers] = r = sync_fleet(fleet, workers=workers, concurrency=concurrency, rate_limit="off")
                print(
                    f"(1) {workers} worker process(es) x concurrency {concurrency}: {r['ok']}/{len(fleet)} syncs ok "
                    f"in {r['wall']:.1f} s, {r['calls']:,} calls ({r['calls'] / r['wall']:.0f}/s), "
                    f"{r['failed']} failed, load average {os.getloadavg()[0]:.2f}"
                )
            speedup = results[1]["wall"] / results[2]["wall"]
            print(f"speedup 1->2 workers: {speedup:.2f}x at concurrency {concurrency} (target >= 1.8x)")

        # (2) AWS's token buckets at orgsim, the portal's shared budget in Redis, 2 workers: first
        # the whole fleet (CPU-bound by construction), then a few big organizations (the buckets bind).
        if "2" in PARTS:
            clear_cache(fleet)
            sim.set_faults(None, throttle="aws")
            sim.reset_calls()
            r = sync_fleet(fleet, workers=2, concurrency=THROTTLED_CONCURRENCY, rate_limit="all")
            sim.clear_faults()
            bound, spent, _ = bucket_bound(sim, r["runs"])
            print(
                f"(2) AWS throttling on, the fleet, 2 workers x concurrency {THROTTLED_CONCURRENCY}: {r['ok']}/{len(fleet)}"
                f" ok in {r['wall']:.1f} s, {r['calls']:,} calls ({r['calls'] / r['wall']:.0f}/s across the fleet), "
                f"{r['throttles']} throttled, {r['failed']} failed; the buckets allow the syncs' calls in "
                f"{bound:.0f} s, they took {spent:.0f} s: {bound / spent if spent else 0:.2f}x (CPU-bound: not the target's figure)"
            )
            big_throttled(tag)
        # (3) The pages at the synced size, then at CACHED rows.
        if "3" not in PARTS:
            return 0
        if not {"1", "2"} & set(PARTS):  # part 3 alone: the pages need a synced fleet first
            r = sync_fleet(fleet, workers=2, concurrency=CONCURRENCY, rate_limit="off")
            print(f"(3) synced the fleet first: {r['ok']}/{len(fleet)} ok in {r['wall']:.1f} s")
        user = get_user_model().objects.create_user(f"fleet-{tag}", password=secrets.token_urlsafe(12))
        Grant.objects.bulk_create([Grant(user=user, connection=c, role=Role.APPROVER) for c in fleet])
        vacuum()
        synced = measure_pages(user)
        t = time.perf_counter()
        added = seed_cached(fleet, CACHED, random.Random(0))
        vacuum()
        print(f"(3) bulk-inserted {added:,} cached handshakes in {time.perf_counter() - t:.0f} s")
        big = measure_pages(user)
        print(f"\n{'page':<44} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'at synced':>10}")
        worst, same = 0.0, True
        for label, m in big.items():
            worst = max(worst, m["p95"])
            same = same and m["queries"] == synced[label]["queries"]
            print(f"{label:<44} {m['p50']:8.1f} {m['p95']:8.1f} {m['queries']:8d} {synced[label]['queries']:10d}")
        if os.environ.get("FLEET_EXPLAIN"):
            explain_slowest(user)
        print(
            f"worst p95 at {CACHED:,} handshakes: {worst:.1f} ms (target <= 50 ms); "
            f"query counts {'the same' if same else 'DIFFERENT'} as at the synced size"
        )
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    finally:
        stop([orgsim])
        drop_fleet(tag)
        if user is not None:
            user.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
