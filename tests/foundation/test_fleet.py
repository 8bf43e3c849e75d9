"""A fleet of organizations at AWS's own rate limits, through real boto3 to orgsim: connections
reached by assuming a role (orgsim's STS, the connection's generated external id), credentials
refreshed once orgsim's clock passes their expiration, one rate budget per account shared by
worker processes (orgsim's call log per second, AWS's token buckets on), and a fleet's syncs
spread over the interval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from orgportal import aws, ratelimit
from orgportal.models import Account, AwsConnection, AwsCredentials, CredentialMode
from orgportal.sync import sync_connection
from orgportal.tasks import sync_plan

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PORTAL_ACCOUNT = "999999999999"  # the portal's own identity, which asks STS for the roles


@pytest.fixture(autouse=True)
def portal_identity(monkeypatch: Any) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", PORTAL_ACCOUNT)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "portal-own-secret")
    aws.forget_clients()
    yield
    aws.forget_clients()


def role_connection(sim: Any, account_id: str, *, trusted_external_id: str | None = "") -> AwsConnection:
    """A connection reaching `account_id` through role/OrgPortalAccess; orgsim trusts the role with
    the connection's own external id unless another one is given (None: no external id at all)."""
    role_arn = f"arn:aws:iam::{account_id}:role/OrgPortalAccess"
    connection = AwsConnection.objects.create(
        name=f"role {account_id}",
        endpoint_url=sim.endpoint,
        read_credentials=AwsCredentials.objects.create(mode=CredentialMode.ASSUME_ROLE, role_arn=role_arn),
    )
    sim.trust_role(role_arn, connection.external_id if trusted_external_id == "" else trusted_external_id)
    return connection


def calls_by(sim: Any) -> dict[tuple[str, str], int]:
    return {(c["operation"], c["account"]): c["count"] for c in sim.calls()["calls"]}


def test_the_role_is_assumed_with_the_connections_external_id_and_acts_as_its_account(sim_org: Any) -> None:
    connection = role_connection(sim_org.sim, sim_org.management_account_id)
    sim_org.sim.reset_calls()

    result = aws.call(connection, "DescribeOrganization")

    assert result.data["Organization"]["Id"] == sim_org.organization_id
    assert calls_by(sim_org.sim) == {
        ("sts:AssumeRole", PORTAL_ACCOUNT): 1,
        ("DescribeOrganization", sim_org.management_account_id): 1,
    }


@pytest.mark.parametrize("trusted", ["orgportal-someone-else", None], ids=["another-external-id", "no-external-id"])
def test_a_role_trusting_another_external_id_is_refused_with_access_denied_in_plain_words(
    sim_org: Any, trusted: str | None
) -> None:
    connection = role_connection(sim_org.sim, sim_org.management_account_id, trusted_external_id=trusted)
    sim_org.sim.reset_calls()

    with pytest.raises(aws.AwsError) as refused:
        aws.call(connection, "DescribeOrganization")

    assert refused.value.code == "AccessDenied"
    assert "trust policy and the external id" in refused.value.user_message
    # STS refused: the role's account never called Organizations.
    assert calls_by(sim_org.sim) == {("sts:AssumeRole", PORTAL_ACCOUNT): 1}


def test_a_role_connection_syncs_the_demo_partner_through_orgsim(orgsim_demo: Any) -> None:
    connection = role_connection(orgsim_demo, "210987654321")

    run = sync_connection(connection)

    assert run is not None and run.status == "ok", run and run.error
    connection.refresh_from_db()
    assert connection.organization_id == "o-oq2gwvpjum"
    assert connection.handshakes.filter(handshake_id="h-2pq2as4gasxv").exists()  # sent to Fabrikam
    assert Account.objects.filter(connection=connection).count() == 3  # Northwind and two members
    assert calls_by(orgsim_demo)[("sts:AssumeRole", PORTAL_ACCOUNT)] == 1


def test_a_sync_after_orgsims_clock_passed_the_credentials_expiration_refreshes_them_and_succeeds(
    sim_org: Any,
) -> None:
    sim = sim_org.sim
    connection = role_connection(sim, sim_org.management_account_id)
    first = sync_connection(connection)
    assert first is not None and first.status == "ok", first and first.error
    old = aws._roles[aws.client_for(connection)].credentials.get_frozen_credentials()
    refreshes = aws.metrics()["credential_refreshes"]

    sim.advance(aws.ROLE_SESSION_SECONDS + 60)
    # The old token really is dead at orgsim now, though the worker's own clock says it has an hour.
    stale = sim.client(old.access_key, aws_secret_access_key=old.secret_key, aws_session_token=old.token)
    with pytest.raises(stale.exceptions.ClientError) as expired:
        stale.describe_organization()
    assert expired.value.response["Error"]["Code"] == "ExpiredTokenException"

    second = sync_connection(connection)

    assert second is not None and second.status == "ok", second.error
    assert aws.metrics()["credential_refreshes"] == refreshes + 1
    assert calls_by(sim)[("sts:AssumeRole", PORTAL_ACCOUNT)] == 2
    # What botocore learned of the server's clock carries on: a third sync needs no new token.
    third = sync_connection(connection)
    assert third is not None and third.status == "ok"
    assert aws.metrics()["credential_refreshes"] == refreshes + 1


WORKER = """
import json, sys, time
import django
django.setup()
from orgportal import aws
from orgportal.models import AwsConnection, AwsCredentials, CredentialMode

endpoint, account, organization, calls, start = sys.argv[1:6]
credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account)
credentials.secret_access_key = "orgsim-secret"
connection = AwsConnection(
    name="worker", endpoint_url=endpoint, read_credentials=credentials,
    account_id=account, organization_id=organization,
)
time.sleep(max(0.0, float(start) - time.time()))  # both workers begin together
with aws.recording() as stats:
    for _ in range(int(calls)):
        aws.call(connection, "ListHandshakesForOrganization")
print(json.dumps({"calls": stats.calls, "throttles": stats.throttles, "waits": stats.rate_waits}))
"""


def test_two_worker_processes_share_one_accounts_budget_and_never_exceed_it(sim_org: Any, tmp_path: Path) -> None:
    sim = sim_org.sim
    sim.set_faults(None, throttle="aws")  # orgsim applies AWS's token buckets to every call
    sim.reset_calls()
    calls_each = 20
    env = {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,
        "ORGPORTAL_TESTING": "false",
        "ORGPORTAL_VAR_DIR": str(tmp_path),  # the embedded default's budget file; Redis if REDIS_URL is set
        "AWS_RATE_LIMIT": "all",  # orgsim is an emulator: limit it as AWS would be
        "AWS_MAX_ATTEMPTS": "1",  # no botocore retry: one throttle fails the worker
        "DJANGO_SETTINGS_MODULE": "orgportal.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    start = time.time() + 4
    args = [sim.endpoint, sim_org.management_account_id, sim_org.organization_id, str(calls_each), str(start)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()[-3000:]
    reports = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["calls"] for r in reports] == [calls_each, calls_each]
    assert [r["throttles"] for r in reports] == [0, 0]
    assert all(r["waits"] > 0 for r in reports)  # each waited its turn in the shared budget

    per_second = {
        c["second"]: c["count"]
        for c in sim.calls()["by_second"]
        if c["operation"] == "ListHandshakesForOrganization" and c["account"] == sim_org.management_account_id
    }
    assert sum(per_second.values()) == 2 * calls_each
    rate, burst = ratelimit.ACCOUNT_BUCKETS["ListHandshakesForOrganization"]
    seconds = sorted(per_second)
    # AWS's bucket lets through at most burst + rate x n calls in any n consecutive seconds.
    for i, first in enumerate(seconds):
        for last in seconds[i:]:
            window = sum(n for s, n in per_second.items() if first <= s <= last)
            assert window <= burst + rate * (last - first + 1), (first, last, window, per_second)
    assert seconds[-1] - seconds[0] >= (2 * calls_each - burst) / rate - 1  # it took as long as the budget says


def test_the_shared_budget_is_on_for_aws_itself_and_for_emulators_only_when_asked(settings: Any) -> None:
    assert ratelimit.applies_to("") and not ratelimit.applies_to("http://127.0.0.1:4566")
    settings.AWS_RATE_LIMIT = "all"
    assert ratelimit.applies_to("http://127.0.0.1:4566")
    settings.AWS_RATE_LIMIT = "off"
    assert not ratelimit.applies_to("")


def test_a_fleets_syncs_are_spread_over_the_interval_the_longest_unsynced_first(make_connection: Any) -> None:
    now = timezone.now()
    fresh = make_connection(last_synced_at=now - timedelta(minutes=1))
    never = make_connection()
    stale = make_connection(last_synced_at=now - timedelta(hours=3))
    make_connection(sync_enabled=False)  # paused: not planned
    middle = make_connection(last_synced_at=now - timedelta(minutes=30))

    plan = sync_plan(300)

    assert [pk for pk, _ in plan] == [never.pk, stale.pk, middle.pk, fresh.pk]
    assert [countdown for _, countdown in plan] == [0, 75, 150, 225]  # evenly, within one interval
