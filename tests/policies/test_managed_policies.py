"""AWS-managed policies reach the portal's pages as AWS places them: with SCPs enabled,
FullAWSAccess sits on the root, every OU and every account (new ones included); with RCPs enabled,
RCPFullAWSAccess the same way. orgsim attaches them as AWS documents; the sync caches them and the
policy and target pages show them, marked as AWS managed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection
from orgportal.sync import sync_connection
from policies.models import Policy, PolicyAttachment
from tests.conftest import SimOrg

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(sim_connection: AwsConnection) -> AwsConnection:
    return sim_connection


def test_managed_policies_sit_on_every_target_after_a_sync(
    sim_org: SimOrg, connection: AwsConnection, personas: Any
) -> None:
    client = sim_org.client
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    client.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    # Created after the types were enabled: AWS attaches the managed policies to new targets too.
    ou = client.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    member = sim_org.add_member()

    run = sync_connection(connection)
    assert run is not None and run.status == "ok", run.error if run else "not run"

    for name, policy_type in (
        ("FullAWSAccess", "SERVICE_CONTROL_POLICY"),
        ("RCPFullAWSAccess", "RESOURCE_CONTROL_POLICY"),
    ):
        policy = Policy.objects.get(connection=connection, name=name)
        assert policy.aws_managed and policy.type == policy_type
        targets = set(
            PolicyAttachment.objects.filter(policy=policy, vanished_at__isnull=True).values_list("target_id", flat=True)
        )
        assert {root, ou, member, sim_org.management_account_id} <= targets, name

    viewer = personas.login(Client(), "viewer")
    page = viewer.get(reverse("target_policies", args=[connection.pk, member]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "FullAWSAccess" in body and "RCPFullAWSAccess" in body
