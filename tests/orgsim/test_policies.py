"""orgsim's policy operations through real boto3 over HTTP: policy types on roots (every type the
model knows), policies, attachments, effective policies, and the errors AWS gives."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.conftest import SimOrg
from tests.orgsim.shapes import check_output

MODEL = botocore.session.get_session().get_service_model("organizations")
INSPECTOR = {"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}}}}}
TAGS = {"tags": {"costcenter": {"tag_key": {"@@assign": "CostCenter"}, "tag_value": {"@@assign": ["100", "200"]}}}}


def check_shape(operation: str, response: dict[str, Any]) -> None:
    """The answer matches the model's output shape (the orgsim suite's validator)."""
    check_output(operation, response)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], str(response.get("Reason", "") or response["Error"].get("Reason", ""))


def root_id(org: SimOrg) -> str:
    return org.client.list_roots()["Roots"][0]["Id"]


@pytest.fixture
def inspector_org(sim_org: SimOrg) -> SimOrg:
    sim_org.client.enable_policy_type(RootId=root_id(sim_org), PolicyType="INSPECTOR_POLICY")
    return sim_org


def test_every_policy_type_in_the_model_can_be_enabled_and_disabled(sim_org: SimOrg) -> None:
    root = root_id(sim_org)
    for policy_type in MODEL.shape_for("PolicyType").enum:
        response = sim_org.client.enable_policy_type(RootId=root, PolicyType=policy_type)
        check_shape("EnablePolicyType", response)
        assert {"Type": policy_type, "Status": "ENABLED"} in response["Root"]["PolicyTypes"]
    listed = sim_org.client.list_roots()["Roots"][0]["PolicyTypes"]
    assert {t["Type"] for t in listed} == set(MODEL.shape_for("PolicyType").enum)
    response = sim_org.client.disable_policy_type(RootId=root, PolicyType="INSPECTOR_POLICY")
    assert "INSPECTOR_POLICY" not in {t["Type"] for t in response["Root"]["PolicyTypes"]}


def test_enabling_a_type_twice_or_disabling_one_not_enabled_gives_aws_errors(inspector_org: SimOrg) -> None:
    root = root_id(inspector_org)
    with pytest.raises(ClientError) as excinfo:
        inspector_org.client.enable_policy_type(RootId=root, PolicyType="INSPECTOR_POLICY")
    assert error_of(excinfo)[0] == "PolicyTypeAlreadyEnabledException"
    with pytest.raises(ClientError) as excinfo:
        inspector_org.client.disable_policy_type(RootId=root, PolicyType="BACKUP_POLICY")
    assert error_of(excinfo)[0] == "PolicyTypeNotEnabledException"
    with pytest.raises(ClientError) as excinfo:
        inspector_org.client.enable_policy_type(RootId="r-zzzz", PolicyType="BACKUP_POLICY")
    assert error_of(excinfo)[0] == "RootNotFoundException"


def test_enabling_scps_attaches_aws_managed_full_access_to_the_root(sim_org: SimOrg) -> None:
    root = root_id(sim_org)
    sim_org.client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    policies = sim_org.client.list_policies_for_target(TargetId=root, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert [(p["Name"], p["AwsManaged"]) for p in policies] == [("FullAWSAccess", True)]
    full = policies[0]["Id"]
    # The last SCP of a target cannot be detached; an AWS-managed policy cannot be changed.
    with pytest.raises(ClientError) as excinfo:
        sim_org.client.detach_policy(PolicyId=full, TargetId=root)
    assert error_of(excinfo) == ("ConstraintViolationException", "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    with pytest.raises(ClientError) as excinfo:
        sim_org.client.update_policy(PolicyId=full, Name="Mine")
    assert error_of(excinfo) == ("InvalidInputException", "IMMUTABLE_POLICY")


def test_inspector_policy_lifecycle_create_describe_update_attach_detach_delete(inspector_org: SimOrg) -> None:
    client = inspector_org.client
    member = inspector_org.add_member()
    created = client.create_policy(
        Name="Inspector EC2", Description="Scan EC2", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR)
    )
    check_shape("CreatePolicy", created)
    policy_id = created["Policy"]["PolicySummary"]["Id"]
    assert created["Policy"]["PolicySummary"]["Type"] == "INSPECTOR_POLICY"

    described = client.describe_policy(PolicyId=policy_id)
    check_shape("DescribePolicy", described)
    assert json.loads(described["Policy"]["Content"]) == INSPECTOR

    updated = client.update_policy(PolicyId=policy_id, Description="Scan EC2 everywhere")
    check_shape("UpdatePolicy", updated)
    assert updated["Policy"]["PolicySummary"]["Description"] == "Scan EC2 everywhere"

    listed = client.list_policies(Filter="INSPECTOR_POLICY")
    check_shape("ListPolicies", listed)
    assert [p["Id"] for p in listed["Policies"]] == [policy_id]

    client.attach_policy(PolicyId=policy_id, TargetId=member)
    with pytest.raises(ClientError) as excinfo:
        client.attach_policy(PolicyId=policy_id, TargetId=member)
    assert error_of(excinfo)[0] == "DuplicatePolicyAttachmentException"

    targets = client.list_targets_for_policy(PolicyId=policy_id)
    check_shape("ListTargetsForPolicy", targets)
    assert [(t["TargetId"], t["Type"]) for t in targets["Targets"]] == [(member, "ACCOUNT")]
    for_target = client.list_policies_for_target(TargetId=member, Filter="INSPECTOR_POLICY")
    check_shape("ListPoliciesForTarget", for_target)
    assert [p["Id"] for p in for_target["Policies"]] == [policy_id]

    with pytest.raises(ClientError) as excinfo:
        client.delete_policy(PolicyId=policy_id)
    assert error_of(excinfo)[0] == "PolicyInUseException"

    client.detach_policy(PolicyId=policy_id, TargetId=member)
    with pytest.raises(ClientError) as excinfo:
        client.detach_policy(PolicyId=policy_id, TargetId=member)
    assert error_of(excinfo)[0] == "PolicyNotAttachedException"
    client.delete_policy(PolicyId=policy_id)
    with pytest.raises(ClientError) as excinfo:
        client.describe_policy(PolicyId=policy_id)
    assert error_of(excinfo)[0] == "PolicyNotFoundException"


def test_policy_errors_aws_gives(inspector_org: SimOrg) -> None:
    client = inspector_org.client
    with pytest.raises(ClientError) as excinfo:
        client.create_policy(Name="Broken", Description="", Type="INSPECTOR_POLICY", Content="{not json")
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    too_long = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "x" * 6000}]})
    with pytest.raises(ClientError) as excinfo:
        client.create_policy(Name="Huge", Description="", Type="SERVICE_CONTROL_POLICY", Content=too_long)
    assert error_of(excinfo) == ("ConstraintViolationException", "POLICY_CONTENT_LIMIT_EXCEEDED")
    client.create_policy(Name="Once", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR))
    with pytest.raises(ClientError) as excinfo:
        client.create_policy(Name="Once", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR))
    assert error_of(excinfo)[0] == "DuplicatePolicyException"
    backup = client.create_policy(Name="Backups", Description="", Type="BACKUP_POLICY", Content='{"plans": {}}')
    with pytest.raises(ClientError) as excinfo:
        client.attach_policy(PolicyId=backup["Policy"]["PolicySummary"]["Id"], TargetId=root_id(inspector_org))
    assert error_of(excinfo)[0] == "PolicyTypeNotEnabledException"
    with pytest.raises(ClientError) as excinfo:
        client.list_policies_for_target(TargetId="999999999999", Filter="INSPECTOR_POLICY")
    assert error_of(excinfo)[0] == "TargetNotFoundException"


def test_only_the_management_account_manages_policies(inspector_org: SimOrg) -> None:
    member = inspector_org.add_member()
    with pytest.raises(ClientError) as excinfo:
        inspector_org.sim.client(member).list_policies(Filter="INSPECTOR_POLICY")
    assert error_of(excinfo)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        inspector_org.sim.client("333333333333").list_policies(Filter="INSPECTOR_POLICY")
    assert error_of(excinfo)[0] == "AWSOrganizationsNotInUseException"


def test_effective_policy_merges_root_ou_and_account(inspector_org: SimOrg) -> None:
    client = inspector_org.client
    root = root_id(inspector_org)
    member = inspector_org.add_member()
    ou = client.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    client.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)

    with pytest.raises(ClientError) as excinfo:
        client.describe_effective_policy(PolicyType="INSPECTOR_POLICY", TargetId=member)
    assert error_of(excinfo)[0] == "EffectivePolicyNotFoundException"

    at_root = client.create_policy(Name="Root", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(INSPECTOR))
    add_region = {"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@append": ["eu-west-1"]}}}}}
    at_ou = client.create_policy(Name="OU", Description="", Type="INSPECTOR_POLICY", Content=json.dumps(add_region))
    client.attach_policy(PolicyId=at_root["Policy"]["PolicySummary"]["Id"], TargetId=root)
    client.attach_policy(PolicyId=at_ou["Policy"]["PolicySummary"]["Id"], TargetId=ou)

    response = client.describe_effective_policy(PolicyType="INSPECTOR_POLICY", TargetId=member)
    check_shape("DescribeEffectivePolicy", response)
    content = json.loads(response["EffectivePolicy"]["PolicyContent"])
    regions = content["inspector"]["enablement"]["ec2_scanning"]["enable_in_regions"]["@@assign"]
    assert regions == ["us-east-1", "eu-west-1"]
    assert response["EffectivePolicy"]["TargetId"] == member

    # A member may read its own effective policy; SCPs have none; roots are not a target.
    own = inspector_org.sim.client(member).describe_effective_policy(PolicyType="INSPECTOR_POLICY")
    assert own["EffectivePolicy"]["TargetId"] == member
    with pytest.raises(ClientError) as excinfo:
        client.describe_effective_policy(PolicyType="INSPECTOR_POLICY", TargetId=root)
    assert error_of(excinfo) == ("InvalidInputException", "TARGET_NOT_SUPPORTED")


def test_scp_has_no_effective_policy(sim_org: SimOrg) -> None:
    # botocore does not check enums client-side: the request reaches orgsim, which answers as AWS.
    with pytest.raises(ClientError) as excinfo:
        sim_org.client.describe_effective_policy(
            PolicyType="SERVICE_CONTROL_POLICY", TargetId=sim_org.management_account_id
        )
    assert error_of(excinfo)[0] == "InvalidInputException"


def test_demo_has_inspector_policies_and_an_invalid_effective_policy(orgsim_demo: Any) -> None:
    found_inspector = False
    found_invalid = False
    for org in orgsim_demo.summary()["organizations"]:
        client = orgsim_demo.client(org["management_account_id"])
        if client.describe_organization()["Organization"]["FeatureSet"] != "ALL":
            continue
        found_inspector |= bool(client.list_policies(Filter="INSPECTOR_POLICY")["Policies"])
        for policy_type in MODEL.shape_for("EffectivePolicyType").enum:
            invalid = client.list_accounts_with_invalid_effective_policy(PolicyType=policy_type)
            check_shape("ListAccountsWithInvalidEffectivePolicy", invalid)
            for account in invalid["Accounts"]:
                errors = client.list_effective_policy_validation_errors(AccountId=account["Id"], PolicyType=policy_type)
                check_shape("ListEffectivePolicyValidationErrors", errors)
                assert errors["EffectivePolicyValidationErrors"]
                found_invalid = True
    assert found_inspector
    assert found_invalid
