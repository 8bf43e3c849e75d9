"""The organization and policy pages end to end through Django, real boto3 and orgsim over HTTP:
the sync of roots, OUs, policies and effective policies; an admin enabling a policy type,
creating, updating, attaching, detaching and deleting a policy; effective policies; creating an
organization; AWS errors in plain words; and the audit trail of every change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from orgportal.models import AwsConnection, Role
from orgportal.sync import sync_connection
from policies.models import (
    AccountPlacement,
    EffectivePolicy,
    OrganizationalUnit,
    Policy,
    PolicyAttachment,
    PolicyChange,
    Root,
)
from tests.conftest import SimOrg

pytestmark = pytest.mark.django_db

INSPECTOR = {"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}}}}}


@pytest.fixture
def connection(sim_connection: AwsConnection) -> AwsConnection:
    """The personas hold their roles on the orgsim-backed connection."""
    return sim_connection


@pytest.fixture
def admin(personas: Any) -> Client:
    return personas.login(Client(), "admin")


def root_id(org: SimOrg) -> str:
    return org.client.list_roots()["Roots"][0]["Id"]


def synced(connection: AwsConnection) -> AwsConnection:
    run = sync_connection(connection)
    assert run is not None and run.status == "ok", run.error if run else "not run"
    connection.refresh_from_db()
    return connection


def test_sync_reads_roots_tree_policies_targets_and_effective_policies(
    sim_org: SimOrg, connection: AwsConnection
) -> None:
    root = root_id(sim_org)
    member = sim_org.add_member()
    ou = sim_org.client.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    sim_org.client.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
    sim_org.client.enable_policy_type(RootId=root, PolicyType="INSPECTOR_POLICY")
    policy = sim_org.client.create_policy(
        Name="Inspector EC2", Description="Scan EC2", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR)
    )["Policy"]["PolicySummary"]["Id"]
    sim_org.client.attach_policy(PolicyId=policy, TargetId=ou)

    synced(connection)

    cached_root = Root.objects.get(connection=connection, root_id=root)
    assert cached_root.policy_type_status("INSPECTOR_POLICY") == "ENABLED"
    assert cached_root.policy_type_status("TAG_POLICY") == ""
    assert OrganizationalUnit.objects.get(connection=connection, ou_id=ou).name == "Workloads"
    assert AccountPlacement.objects.get(connection=connection, account_id=member).parent_id == ou
    cached = Policy.objects.get(connection=connection, policy_id=policy)
    assert (cached.name, cached.type, json.loads(cached.content)) == ("Inspector EC2", "INSPECTOR_POLICY", INSPECTOR)
    assert list(PolicyAttachment.objects.filter(policy=cached).values_list("target_id", "target_type")) == [
        (ou, "ORGANIZATIONAL_UNIT")
    ]
    effective = EffectivePolicy.objects.get(connection=connection, account_id=member, policy_type="INSPECTOR_POLICY")
    assert effective.found and json.loads(effective.content) == INSPECTOR
    # The management account sits at the root: nothing of the type reaches it.
    assert not EffectivePolicy.objects.get(
        connection=connection, account_id=sim_org.management_account_id, policy_type="INSPECTOR_POLICY"
    ).found


def test_second_sync_with_nothing_changed_writes_nothing(sim_org: SimOrg, connection: AwsConnection) -> None:
    root = root_id(sim_org)
    sim_org.add_member()
    sim_org.client.enable_policy_type(RootId=root, PolicyType="INSPECTOR_POLICY")
    policy = sim_org.client.create_policy(
        Name="Inspector", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR)
    )["Policy"]["PolicySummary"]["Id"]
    sim_org.client.attach_policy(PolicyId=policy, TargetId=root)
    synced(connection)
    run = sync_connection(connection)
    assert run is not None and run.status == "ok"
    assert (run.created, run.changed, run.vanished) == (0, 0, 0)


def test_a_policy_detached_and_deleted_in_aws_is_marked_vanished(sim_org: SimOrg, connection: AwsConnection) -> None:
    root = root_id(sim_org)
    sim_org.client.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    policy = sim_org.client.create_policy(Name="Tags", Description="", Type="TAG_POLICY", Content='{"tags": {}}')[
        "Policy"
    ]["PolicySummary"]["Id"]
    sim_org.client.attach_policy(PolicyId=policy, TargetId=root)
    synced(connection)
    sim_org.client.detach_policy(PolicyId=policy, TargetId=root)
    sim_org.client.delete_policy(PolicyId=policy)
    synced(connection)
    assert Policy.objects.get(policy_id=policy).vanished_at is not None
    assert PolicyAttachment.objects.get(policy__policy_id=policy).vanished_at is not None


def test_organization_page_shows_identity_roots_every_policy_type_and_accounts(
    sim_org: SimOrg, connection: AwsConnection, personas: Any
) -> None:
    member = sim_org.add_member()
    synced(connection)
    page = personas.login(Client(), "viewer").get(reverse("organization", args=[connection.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert sim_org.organization_id in html and "ALL" in html
    for policy_type in ("INSPECTOR_POLICY", "SERVICE_CONTROL_POLICY", "GUARDDUTY_POLICY"):
        assert policy_type in html
    assert member in html
    assert "Synced" in html
    # A viewer is not offered the buttons an admin has.
    assert "policy-types/enable" not in html
    filtered = personas.login(Client(), "viewer").get(
        reverse("organization", args=[connection.pk]), {"q": member}, HTTP_HX_REQUEST="true"
    )
    assert member in filtered.content.decode() and "<html" not in filtered.content.decode()


def test_admin_enables_inspector_creates_attaches_and_reads_the_effective_policy(
    sim_org: SimOrg, connection: AwsConnection, admin: Client
) -> None:
    member = sim_org.add_member()
    synced(connection)
    root = root_id(sim_org)

    confirm = admin.get(reverse("policy_type_enable", args=[connection.pk]), {"root": root, "type": "INSPECTOR_POLICY"})
    assert confirm.status_code == 200
    assert "Amazon Inspector" in confirm.content.decode()
    done = admin.post(
        reverse("policy_type_enable", args=[connection.pk]),
        {"root_id": root, "policy_type": "INSPECTOR_POLICY", "confirm": "on", "confirmed": "on"},
    )
    assert done.status_code == 302
    assert Root.objects.get(root_id=root).policy_type_status("INSPECTOR_POLICY") == "ENABLED"
    assert {"Type": "INSPECTOR_POLICY", "Status": "ENABLED"} in sim_org.client.list_roots()["Roots"][0]["PolicyTypes"]

    created = admin.post(
        reverse("policy_create", args=[connection.pk]),
        {
            "name": "Inspector EC2",
            "description": "Scan EC2",
            "type": "INSPECTOR_POLICY",
            "content": json.dumps(INSPECTOR),
            "confirmed": "on",
        },
    )
    assert created.status_code == 302
    assert created["Location"].endswith("/") and "/policies/p-" in created["Location"]
    policy = Policy.objects.get(connection=connection, name="Inspector EC2")
    assert (
        sim_org.client.describe_policy(PolicyId=policy.policy_id)["Policy"]["PolicySummary"]["Name"] == "Inspector EC2"
    )

    attached = admin.post(
        reverse("policy_attach", args=[connection.pk]),
        {"policy_id": policy.policy_id, "target_id": member, "confirmed": "on"},
    )
    assert attached.status_code == 302
    assert PolicyAttachment.objects.filter(policy=policy, target_id=member, vanished_at__isnull=True).exists()
    # Attaching to an account reads its effective policy at once.
    effective = EffectivePolicy.objects.get(connection=connection, account_id=member, policy_type="INSPECTOR_POLICY")
    assert effective.found and json.loads(effective.content) == INSPECTOR

    page = admin.get(
        reverse("effective_policy", args=[connection.pk]), {"account_id": member, "policy_type": "INSPECTOR_POLICY"}
    )
    assert "ec2_scanning" in page.content.decode()

    detail = admin.get(reverse("policy_detail", args=[connection.pk, policy.policy_id]))
    assert "enable_in_regions" in detail.content.decode() and member in detail.content.decode()

    actions = list(
        AuditEvent.objects.filter(action__in=["policy_type.enable", "policy.create", "policy.attach"]).values_list(
            "action", "outcome"
        )
    )
    for action in ("policy_type.enable", "policy.create", "policy.attach"):
        assert (action, "intent") in actions and (action, "ok") in actions


def test_admin_updates_detaches_and_deletes_a_policy(sim_org: SimOrg, connection: AwsConnection, admin: Client) -> None:
    root = root_id(sim_org)
    sim_org.client.enable_policy_type(RootId=root, PolicyType="INSPECTOR_POLICY")
    policy_id = sim_org.client.create_policy(
        Name="Inspector", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR)
    )["Policy"]["PolicySummary"]["Id"]
    sim_org.client.attach_policy(PolicyId=policy_id, TargetId=root)
    synced(connection)

    updated = admin.post(
        reverse("policy_update", args=[connection.pk]),
        {
            "policy_id": policy_id,
            "name": "Inspector everywhere",
            "description": "All regions",
            "content": json.dumps(INSPECTOR),
            "confirmed": "on",
        },
    )
    assert updated.status_code == 302
    assert Policy.objects.get(policy_id=policy_id).name == "Inspector everywhere"

    refused = admin.post(
        reverse("policy_delete", args=[connection.pk]), {"policy_id": policy_id, "confirmed": "on"}, follow=True
    )
    assert "still attached somewhere" in refused.content.decode()
    assert "PolicyInUseException" in refused.content.decode()
    assert Policy.objects.get(policy_id=policy_id).vanished_at is None

    detached = admin.post(
        reverse("policy_detach", args=[connection.pk]),
        {"policy_id": policy_id, "target_id": root, "confirmed": "on"},
        follow=True,
    )
    assert "is detached from" in detached.content.decode()
    assert PolicyAttachment.objects.get(policy__policy_id=policy_id, target_id=root).vanished_at is not None
    targets = admin.get(reverse("target_policies", args=[connection.pk, root]))
    assert "Inspector everywhere" not in targets.content.decode()

    admin.post(reverse("policy_delete", args=[connection.pk]), {"policy_id": policy_id, "confirmed": "on"})
    assert Policy.objects.get(policy_id=policy_id).vanished_at is not None
    assert sim_org.client.list_policies(Filter="INSPECTOR_POLICY")["Policies"] == []


def test_invalid_json_is_refused_before_anything_is_sent(
    sim_org: SimOrg, connection: AwsConnection, admin: Client
) -> None:
    sim_org.client.enable_policy_type(RootId=root_id(sim_org), PolicyType="INSPECTOR_POLICY")
    synced(connection)
    response = admin.post(
        reverse("policy_create", args=[connection.pk]),
        {"name": "Broken", "description": "", "type": "INSPECTOR_POLICY", "content": "{not json"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.content.decode()
    too_long = admin.post(
        reverse("policy_create", args=[connection.pk]),
        {"name": "x" * 200, "description": "", "type": "INSPECTOR_POLICY", "content": "{}"},
    )
    assert too_long.status_code == 422
    assert sim_org.client.list_policies(Filter="INSPECTOR_POLICY")["Policies"] == []
    assert not AuditEvent.objects.filter(action="policy.create").exists()


def test_aws_errors_read_in_plain_words_with_the_code(
    sim_org: SimOrg, connection: AwsConnection, admin: Client
) -> None:
    synced(connection)
    # The type is not enabled: AWS refuses to attach; the user reads why.
    sim_org.client.enable_policy_type(RootId=root_id(sim_org), PolicyType="BACKUP_POLICY")
    policy_id = sim_org.client.create_policy(
        Name="Backups", Description="", Type="BACKUP_POLICY", Content='{"plans": {}}'
    )["Policy"]["PolicySummary"]["Id"]
    sim_org.client.disable_policy_type(RootId=root_id(sim_org), PolicyType="BACKUP_POLICY")
    synced(connection)
    response = admin.post(
        reverse("policy_attach", args=[connection.pk]),
        {"policy_id": policy_id, "target_id": root_id(sim_org), "confirmed": "on"},
        follow=True,
    )
    html = response.content.decode()
    assert "not enabled in this root" in html and "PolicyTypeNotEnabledException" in html
    assert AuditEvent.objects.filter(action="policy.attach", outcome="error").count() == 1


def test_create_organization_for_a_standalone_account(orgsim: Any, make_connection: Any, make_user: Any) -> None:
    standalone = make_connection(name="New company", account_id="444444444444", endpoint_url=orgsim.endpoint)
    user = make_user("olga", roles=[Role.ADMIN], connection=standalone)
    client = Client()
    client.force_login(user)
    page = client.get(reverse("organization", args=[standalone.pk]))
    assert "Create the organization" in page.content.decode()
    response = client.post(
        reverse("organization_create", args=[standalone.pk]), {"feature_set": "ALL", "confirmed": "on"}
    )
    assert response.status_code == 302
    standalone.refresh_from_db()
    assert standalone.organization_id.startswith("o-") and standalone.feature_set == "ALL"
    assert standalone.management_account_id == "444444444444"
    assert Root.objects.filter(connection=standalone).count() == 1
    again = client.post(
        reverse("organization_create", args=[standalone.pk]), {"feature_set": "ALL", "confirmed": "on"}, follow=True
    )
    assert "already has an organization" in again.content.decode()


def test_viewer_can_read_but_not_change_policies(sim_org: SimOrg, connection: AwsConnection, personas: Any) -> None:
    synced(connection)
    viewer = personas.login(Client(), "viewer")
    assert viewer.get(reverse("policy_list", args=[connection.pk])).status_code == 200
    response = viewer.post(
        reverse("policy_type_enable", args=[connection.pk]),
        {"root_id": root_id(sim_org), "policy_type": "INSPECTOR_POLICY", "confirm": "on", "confirmed": "on"},
    )
    assert response.status_code == 403
    assert sim_org.client.list_roots()["Roots"][0]["PolicyTypes"] == []


def test_policy_list_filters_by_type_and_search(sim_org: SimOrg, connection: AwsConnection, personas: Any) -> None:
    root = root_id(sim_org)
    for policy_type in ("INSPECTOR_POLICY", "TAG_POLICY"):
        sim_org.client.enable_policy_type(RootId=root, PolicyType=policy_type)
    sim_org.client.create_policy(Name="Scan", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR))
    sim_org.client.create_policy(Name="Cost tags", Description="", Type="TAG_POLICY", Content='{"tags": {}}')
    synced(connection)
    viewer = personas.login(Client(), "viewer")
    by_type = viewer.get(reverse("policy_list", args=[connection.pk]), {"type": "TAG_POLICY"}).content.decode()
    assert "Cost tags" in by_type and "Scan" not in by_type
    searched = viewer.get(reverse("policy_list", args=[connection.pk]), {"q": "scan"}, HTTP_HX_REQUEST="true")
    assert "Scan" in searched.content.decode() and "Cost tags" not in searched.content.decode()


def test_demo_invalid_effective_policies_are_listed_with_errors_and_linked_from_the_inbox(
    orgsim_demo: Any, make_connection: Any, make_user: Any
) -> None:
    invalid_account = None
    connection = None
    for org in orgsim_demo.summary()["organizations"]:
        client = orgsim_demo.client(org["management_account_id"])
        if client.describe_organization()["Organization"]["FeatureSet"] != "ALL":
            continue
        for policy_type in ("INSPECTOR_POLICY", "TAG_POLICY", "BACKUP_POLICY"):
            accounts = client.list_accounts_with_invalid_effective_policy(PolicyType=policy_type)["Accounts"]
            if accounts:
                invalid_account = accounts[0]["Id"]
                connection = make_connection(
                    name="Demo", account_id=org["management_account_id"], endpoint_url=orgsim_demo.endpoint
                )
                break
        if connection:
            break
    assert connection is not None and invalid_account is not None
    synced(connection)
    row = EffectivePolicy.objects.get(connection=connection, account_id=invalid_account, invalid=True)
    assert row.validation_errors
    user = make_user("ivan", roles=[Role.VIEWER], connection=connection)
    client = Client()
    client.force_login(user)
    listing = client.get(reverse("invalid_effective_policies", args=[connection.pk])).content.decode()
    assert invalid_account in listing and row.validation_errors[0]["code"] in listing
    inbox = client.get(reverse("inbox")).content.decode()
    assert "Effective policies to fix" in inbox and invalid_account in inbox


# --- the common house: keyset lists, htmx partials, the review step, history --------------------


def test_policy_list_pages_by_keyset_and_htmx_gets_only_the_rows(connection: AwsConnection, personas: Any) -> None:
    Policy.objects.bulk_create(
        Policy(connection=connection, policy_id=f"p-{n:08d}", name=f"Policy {n:03d}", type="TAG_POLICY")
        for n in range(120)
    )
    viewer = personas.login(Client(), "viewer")
    url = reverse("policy_list", args=[connection.pk])

    first = viewer.get(url, {"type": "TAG_POLICY"})
    html = first.content.decode()
    assert first.status_code == 200
    assert "Policy 000" in html and "Policy 049" in html and "Policy 050" not in html
    cursor = first.context["page"].next_cursor
    assert cursor and f"cursor={cursor}" in html and "page=" not in html

    second = viewer.get(url, {"type": "TAG_POLICY", "cursor": cursor}, HTTP_HX_REQUEST="true")
    rows = second.content.decode()
    assert second.status_code == 200
    assert "<html" not in rows and 'id="rows"' in rows
    assert "Policy 050" in rows and "Policy 099" in rows and "Policy 049" not in rows

    last = viewer.get(url, {"type": "TAG_POLICY", "cursor": second.context["page"].next_cursor})
    assert [p.name for p in last.context["page"].rows] == [f"Policy {n:03d}" for n in range(100, 120)]
    assert last.context["page"].next_cursor is None


def test_a_damaged_page_link_or_an_unknown_type_is_a_400_that_says_what_was_ignored(
    connection: AwsConnection, personas: Any
) -> None:
    viewer = personas.login(Client(), "viewer")
    for name in ("policy_list", "invalid_effective_policies", "organization"):
        damaged = viewer.get(reverse(name, args=[connection.pk]), {"cursor": "not-a-cursor"})
        assert damaged.status_code == 400, name
        assert "out of date or damaged" in damaged.content.decode()
    unknown = viewer.get(reverse("policy_list", args=[connection.pk]), {"type": "NO_SUCH_POLICY"})
    assert unknown.status_code == 400
    assert "NO_SUCH_POLICY" in unknown.content.decode()
    # A NUL byte never reaches the view: the input middleware refuses it at the door, saying why.
    nul = viewer.get(reverse("policy_list", args=[connection.pk]), {"q": "a\x00b"})
    assert nul.status_code == 400
    assert "NUL" in nul.content.decode() or "control character" in nul.content.decode()
    assert (
        viewer.get(reverse("policy_detail", args=[connection.pk, "p-\x00"])).status_code == 400
    )  # refused at the door


def test_a_policy_action_shows_what_will_be_sent_before_anything_is_sent(
    sim_org: SimOrg, connection: AwsConnection, admin: Client
) -> None:
    member = sim_org.add_member()
    sim_org.client.enable_policy_type(RootId=root_id(sim_org), PolicyType="INSPECTOR_POLICY")
    synced(connection)
    form = {"name": "Inspector EC2", "description": "Scan EC2", "type": "INSPECTOR_POLICY"}
    review = admin.post(reverse("policy_create", args=[connection.pk]), {**form, "content": json.dumps(INSPECTOR)})
    html = review.content.decode()
    assert review.status_code == 200
    assert "What will be sent to AWS" in html and "CreatePolicy" in html and "enable_in_regions" in html
    assert sim_org.client.list_policies(Filter="INSPECTOR_POLICY")["Policies"] == []
    assert not AuditEvent.objects.filter(action="policy.create").exists()

    confirmed = admin.post(
        reverse("policy_create", args=[connection.pk]), {**form, "content": json.dumps(INSPECTOR), "confirmed": "on"}
    )
    assert confirmed.status_code == 302
    policy = Policy.objects.get(connection=connection, name="Inspector EC2")

    attach = admin.post(
        reverse("policy_attach", args=[connection.pk]), {"policy_id": policy.policy_id, "target_id": member}
    )
    assert attach.status_code == 200
    assert "AttachPolicy" in attach.content.decode() and member in attach.content.decode()
    assert not PolicyAttachment.objects.filter(policy=policy).exists()

    delete = admin.get(reverse("policy_delete", args=[connection.pk]), {"policy": policy.policy_id})
    assert delete.status_code == 200 and "DeletePolicy" in delete.content.decode()
    assert Policy.objects.get(pk=policy.pk).vanished_at is None


def test_policy_actions_and_the_sync_write_the_policy_history(
    sim_org: SimOrg, connection: AwsConnection, admin: Client
) -> None:
    sim_org.client.enable_policy_type(RootId=root_id(sim_org), PolicyType="INSPECTOR_POLICY")
    synced(connection)
    created = admin.post(
        reverse("policy_create", args=[connection.pk]),
        {
            "name": "Scan",
            "description": "",
            "type": "INSPECTOR_POLICY",
            "content": json.dumps(INSPECTOR),
            "confirmed": "on",
        },
    )
    assert created.status_code == 302
    policy = Policy.objects.get(connection=connection, name="Scan")
    admin.post(
        reverse("policy_update", args=[connection.pk]),
        {
            "policy_id": policy.policy_id,
            "name": "Scan everything",
            "description": "",
            "content": json.dumps(INSPECTOR),
            "confirmed": "on",
        },
    )
    # A change made in AWS behind the portal's back: the next sync records it.
    sim_org.client.update_policy(PolicyId=policy.policy_id, Description="Edited in the console")
    synced(connection)
    admin.post(reverse("policy_delete", args=[connection.pk]), {"policy_id": policy.policy_id, "confirmed": "on"})

    history = list(PolicyChange.objects.filter(policy=policy).values_list("kind", "changes"))
    assert [kind for kind, _ in history] == ["action", "action", "changed", "vanished"]
    assert history[0][1]["name"] == [None, "Scan"]
    assert history[1][1] == {"name": ["Scan", "Scan everything"]}
    assert history[2][1] == {"description": ["", "Edited in the console"]}
    # The sync that follows an action finds nothing more to write.
    assert PolicyChange.objects.filter(policy=policy, sync_run__isnull=False).count() == 1
    detail = admin.get(reverse("policy_detail", args=[connection.pk, policy.policy_id]))
    assert detail.status_code == 404  # deleted: no longer listed
    Policy.objects.filter(pk=policy.pk).update(vanished_at=None)
    page = admin.get(reverse("policy_detail", args=[connection.pk, policy.policy_id])).content.decode()
    assert "History" in page and "Changed by a portal action" in page and "Edited in the console" in page
