"""aws.fan_out: per-item calls (DescribePolicy per policy, DescribeEffectivePolicy per account)
made a few at a time, in order, counted in the caller's sync, failing on the first error."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from orgportal import aws
from orgportal.models import AwsConnection
from policies.models import Policy
from policies.sync import sync_policies_area

from ..conftest import SimOrg


def test_results_come_back_in_the_items_order() -> None:
    def slow_square(n: int) -> int:
        time.sleep(random.random() / 200)
        return n * n

    assert aws.fan_out(slow_square, range(30)) == [n * n for n in range(30)]
    assert aws.fan_out(slow_square, []) == []


def test_the_first_failure_is_raised_and_the_rest_are_not_started() -> None:
    started: list[int] = []

    def fail_on_three(n: int) -> int:
        started.append(n)
        time.sleep(0.01)
        if n == 3:
            raise ValueError("three")
        return n

    with pytest.raises(ValueError, match="three"):
        aws.fan_out(fail_on_three, range(100), workers=2)
    assert len(started) < 100


def test_calls_run_concurrently_and_count_in_the_callers_sync(sim_org: SimOrg, sim_connection: AwsConnection) -> None:
    sim_org.sim.set_faults("DescribeOrganization", latency_ms=100)
    client = aws.client_for(sim_connection)
    with aws.recording() as stats:
        started = time.perf_counter()
        results = aws.fan_out(lambda _: aws.call(client, "DescribeOrganization").data, range(8), workers=4)
        elapsed = time.perf_counter() - started
    assert [r["Organization"]["Id"] for r in results] == [sim_org.organization_id] * 8
    assert stats.calls == 8
    assert sim_org.sim.calls()["by_operation"]["DescribeOrganization"] == 8
    assert elapsed < 0.6, f"8 calls of 100 ms, 4 at a time, took {elapsed:.2f}s"


def test_policy_sync_reads_each_policy_once(sim_org: SimOrg, sim_connection: AwsConnection, db: Any) -> None:
    client = sim_org.client
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    for i in range(7):
        policy = client.create_policy(Name=f"tags-{i}", Description="", Type="TAG_POLICY", Content='{"tags": {}}')[
            "Policy"
        ]["PolicySummary"]
        client.attach_policy(PolicyId=policy["Id"], TargetId=root)
    sim_org.sim.reset_calls()
    sim_connection.organization_id = sim_org.organization_id
    sim_connection.save()
    from orgportal.sync import Counts

    with aws.recording() as stats:
        sync_policies_area(sim_connection, aws.client_for(sim_connection), None, Counts())
    by_operation = sim_org.sim.calls()["by_operation"]
    assert by_operation["DescribePolicy"] == by_operation["ListTargetsForPolicy"] == 7
    assert stats.calls == sum(by_operation.values())
    stored = Policy.objects.filter(connection=sim_connection, type="TAG_POLICY")
    assert sorted(p.name for p in stored) == [f"tags-{i}" for i in range(7)]
    assert all(p.attachments.count() == 1 for p in stored)
