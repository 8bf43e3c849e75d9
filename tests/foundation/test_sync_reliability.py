"""Syncs that finish: killed syncs closed as interrupted, claims on a heartbeat, fresh retry budgets,
and every sync completing under heavy throttling and AWS-side errors (real boto3 -> orgsim)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django import db

from handshakes.models import Handshake
from orgportal import aws
from orgportal.models import Account, AwsConnection, SyncRun
from orgportal.sync import claim, reap_interrupted_syncs, sync_connection
from orgportal.tasks import ensure_schedule, sync_connection_task
from tests.conftest import SimOrg, create_org
from tests.foundation.test_sync import SOURCE_ACCOUNT_ID, invite_to_pay
from tests.foundation.test_tasks import ROOT, _database_url
from transfers.models import ResponsibilityTransfer


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    aws.forget_clients()


def orgsim_view(sim: Any, connection: AwsConnection) -> dict[str, dict[str, str]]:
    """What orgsim's own state (its dump) says this connection should see, by kind: id -> status."""
    state = sim.dump()
    org, account = connection.organization_id, connection.account_id
    return {
        "accounts": {a["id"]: a["state"] for a in state["accounts"] if a["org_id"] == org},
        "handshakes": {
            h["id"]: h["state"]
            for h in state["handshakes"]
            if f"acct:{account}" in h["index_keys"] or f"org:{org}" in h["index_keys"]
        },
        "transfers": {
            t["id"]: t["status"] for t in state["transfers"] if org in (t["source_org_id"], t["target_org_id"])
        },
    }


def cached_view(connection: AwsConnection) -> dict[str, dict[str, str]]:
    """What the portal cached for the connection (rows AWS still lists), in the same shape."""
    live = {"connection": connection, "vanished_at__isnull": True}
    return {
        "accounts": dict(Account.objects.filter(**live).values_list("account_id", "status")),
        "handshakes": dict(Handshake.objects.filter(**live).values_list("handshake_id", "state")),
        "transfers": dict(ResponsibilityTransfer.objects.filter(**live).values_list("transfer_id", "status")),
    }


def assert_mirrors_orgsim(sim: Any, connection: AwsConnection) -> None:
    connection.refresh_from_db()
    expected = orgsim_view(sim, connection)
    assert expected["accounts"], expected  # a scene with something to compare
    assert cached_view(connection) == expected


def busy_org(sim: Any, sim_org: SimOrg) -> None:
    """Members, an invitation of each direction and a billing transfer: every list has rows."""
    for _ in range(3):
        sim_org.add_member()
    invite_to_pay(sim_org, create_org(sim, SOURCE_ACCOUNT_ID))


# --- the claim and interrupted runs -----------------------------------------------------------


def test_a_claim_expires_when_its_heartbeat_stops_not_after_half_an_hour(
    settings: Any, sim_connection: AwsConnection
) -> None:
    settings.SYNC_CLAIM_TIMEOUT_SECONDS = 60
    AwsConnection.objects.filter(pk=sim_connection.pk).update(sync_claimed_at=datetime.now(UTC) - timedelta(seconds=30))
    assert claim(sim_connection) is None  # beat 30 s ago: alive
    AwsConnection.objects.filter(pk=sim_connection.pk).update(sync_claimed_at=datetime.now(UTC) - timedelta(seconds=90))
    assert claim(sim_connection) is not None  # silent for 90 s: abandoned


def test_the_next_sync_closes_a_killed_syncs_run_as_interrupted(
    settings: Any, orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    settings.SYNC_CLAIM_TIMEOUT_SECONDS = 60
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    # What a SIGKILLed worker leaves: a run "running" with 0 calls and the connection claimed.
    dead = SyncRun.objects.create(connection=sim_connection, started_at=long_ago, heartbeat_at=long_ago)
    AwsConnection.objects.filter(pk=sim_connection.pk).update(sync_claimed_at=long_ago)

    run = sync_connection(sim_connection)

    assert run is not None and run.status == "ok", run and run.error
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert dead.finished_at is not None and "stopped" in dead.error
    assert SyncRun.objects.filter(status=SyncRun.Status.RUNNING).count() == 0


def test_the_reaper_closes_abandoned_runs_and_frees_their_claim_but_leaves_live_ones(
    settings: Any, make_connection: Any
) -> None:
    settings.SYNC_CLAIM_TIMEOUT_SECONDS = 60
    now = datetime.now(UTC)
    dead_connection, live_connection = make_connection(), make_connection()
    dead = SyncRun.objects.create(
        connection=dead_connection, started_at=now - timedelta(minutes=3), heartbeat_at=now - timedelta(minutes=2)
    )
    live = SyncRun.objects.create(
        connection=live_connection, started_at=now - timedelta(minutes=3), heartbeat_at=now - timedelta(seconds=5)
    )
    AwsConnection.objects.filter(pk=dead_connection.pk).update(sync_claimed_at=now - timedelta(minutes=2))
    AwsConnection.objects.filter(pk=live_connection.pk).update(sync_claimed_at=now - timedelta(seconds=5))

    assert reap_interrupted_syncs() == [dead_connection.pk]

    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED and live.status == SyncRun.Status.RUNNING
    dead_connection.refresh_from_db()
    live_connection.refresh_from_db()
    assert dead_connection.sync_claimed_at is None and live_connection.sync_claimed_at is not None
    assert dead_connection.last_sync_ok is False and "stopped" in dead_connection.last_sync_error


def test_a_running_sync_keeps_its_claim_alive_with_heartbeats(
    settings: Any, orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    settings.SYNC_HEARTBEAT_SECONDS = 0  # beat at every chance
    orgsim.set_faults(None, latency_ms=50)
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok", run.error
    assert run.heartbeat_at is not None and run.heartbeat_at > run.started_at
    sim_connection.refresh_from_db()
    assert sim_connection.sync_claimed_at is None  # released at the end


# --- retry budgets ----------------------------------------------------------------------------


def test_after_a_throttling_storm_a_later_sync_in_the_same_process_still_retries(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    # A storm on this connection's client: 25 calls throttled on every attempt spend botocore's
    # whole retry quota (500 units, 5 per throttled retry), which lives as long as the client.
    orgsim.set_faults(None, throttle=1.0)
    storm = aws.fan_out(
        lambda _: _throttled(sim_connection), range(25), workers=25
    )  # each call ends throttled after its retries
    assert storm == [True] * 25
    orgsim.clear_faults()

    # Later, ordinary trouble: every other call fails once or more, which retries absorb.
    orgsim.set_faults(None, error_rate=0.5)
    for _ in range(2):
        run = sync_connection(sim_connection)
        assert run is not None and run.status == "ok", run and run.error
        assert run.retries >= 1


def _throttled(connection: AwsConnection) -> bool:
    try:
        aws.call(connection, "DescribeOrganization")
    except aws.AwsError as error:
        return error.throttled
    return False


@pytest.mark.django_db(transaction=True)
def test_every_sync_completes_under_half_throttled_calls_and_a_tenth_of_server_errors(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection, make_connection: Any
) -> None:
    busy_org(orgsim, sim_org)
    # Three syncs at once (each takes 10-40 s here, honouring AWS's backoff over fifteen
    # ListPolicies in a row): both sides of the transfer and an organization on its own. Without
    # retry rounds a call fails after five attempts one time in twenty: most such syncs failed.
    loner = create_org(orgsim, "444444444444")
    connections = [
        sim_connection,
        make_connection(account_id=SOURCE_ACCOUNT_ID, endpoint_url=orgsim.endpoint),
        make_connection(account_id=loner.management_account_id, endpoint_url=orgsim.endpoint),
    ]
    orgsim.set_faults(None, throttle=0.5, error_rate=0.1)
    with ThreadPoolExecutor(max_workers=len(connections)) as pool:
        runs = list(pool.map(_sync_in_thread, connections))
    orgsim.clear_faults()
    for connection, run in zip(connections, runs, strict=True):
        assert run is not None and run.status == "ok", f"{connection}: {run and run.error}"
        assert run.throttles >= 1
        assert_mirrors_orgsim(orgsim, connection)
    assert all(cached_view(sim_connection).values())  # the payer has rows of every kind


def _sync_in_thread(connection: AwsConnection) -> SyncRun | None:
    try:
        return sync_connection(connection)
    finally:
        db.connection.close()  # each thread has its own database connection


# --- a real worker killed mid-sync ------------------------------------------------------------


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "orgportal", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(predicate: Any, seconds: float, processes: list[subprocess.Popen[bytes]]) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, process.communicate(timeout=5)[0].decode()[-3000:]
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    return None


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_sync_whose_worker_is_sigkilled_is_closed_and_finished_by_another_worker_within_a_minute(
    settings: Any, orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    """On the embedded default's broker (SQLite run) and on Redis (PostgreSQL run) alike."""

    busy_org(orgsim, sim_org)
    queue = f"test-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker takes our tasks
    # Short heartbeats so the test is quick; production beats every 10 s and gives up after 60.
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_CLAIM_TIMEOUT_SECONDS, settings.SYNC_REAPER_SECONDS = 1, 4, 2
    ensure_schedule()  # beat's entries: the sync of every connection and the reaper
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # the same key decrypts the stored secret
        "ORGPORTAL_TESTING": "false",
        "ORGPORTAL_VAR_DIR": str(settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "orgportal.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "CELERY_QUEUE": queue,
        "SYNC_HEARTBEAT_SECONDS": "1",
        "SYNC_CLAIM_TIMEOUT_SECONDS": "4",
        "CELERY_VISIBILITY_TIMEOUT": "8",
    }
    worker_args = ["worker", "--pool", "solo", "-Q", queue, "--loglevel", "WARNING",
                   "--without-heartbeat", "--without-gossip", "--without-mingle"]  # fmt: skip
    orgsim.set_faults(None, latency_ms=300)  # a sync of a few seconds, so the kill lands inside it
    first = _start([*worker_args, "-n", f"first-{queue}@%h"], env)
    processes = [first]
    try:
        sync_connection_task.apply_async(args=[sim_connection.pk], queue=queue)
        # Mid-sync: the run is open and the first rows are written.
        killed_run = _wait_for(
            lambda: (
                Account.objects.filter(connection=sim_connection).exists()
                and SyncRun.objects.filter(connection=sim_connection, status="running").first()
            ),
            60,
            processes,
        )
        assert killed_run is not None, "the first worker did not start the sync"
        os.kill(first.pid, signal.SIGKILL)  # the whole worker, as the OOM killer or a lost host does
        first.wait(timeout=10)
        killed_at = time.monotonic()
        killed_run.refresh_from_db()
        assert killed_run.status == "running"  # nobody could close it

        orgsim.set_faults(None, latency_ms=20)
        processes = [_start([*worker_args, "-n", f"second-{queue}@%h"], env)]
        processes.append(_start(["beat", "--loglevel", "WARNING", "--max-interval", "1"], env))
        done = _wait_for(lambda: SyncRun.objects.filter(connection=sim_connection, status="ok").first(), 60, processes)
        assert done is not None, "no other worker finished the sync within a minute"
        assert time.monotonic() - killed_at < 60
    finally:
        for process in processes:
            _stop(process)
        _stop(first)
        orgsim.clear_faults()

    killed_run.refresh_from_db()
    assert killed_run.status == SyncRun.Status.INTERRUPTED and killed_run.finished_at is not None
    assert done.started_at > killed_run.started_at
    assert_mirrors_orgsim(orgsim, sim_connection)  # nothing lost
    sim_connection.refresh_from_db()
    assert sim_connection.last_sync_ok is True
