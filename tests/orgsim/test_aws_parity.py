"""What moto's Organizations test-suite checks, held against orgsim through real boto3 over HTTP,
written here from AWS's documentation: managed policies where AWS puts them, account creation and
closure on orgsim's clock, OUs renamed and deleted, trusted service access, delegated
administrators, the resource policy, organization deletion, ARNs per partition, the model's
wording in errors, and the coverage table that cannot drift.

Where moto and AWS's documentation disagree, AWS wins and the test says so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orgsim import coverage
from orgsim.model import exception_message
from orgsim.state import ASYNC_SECONDS
from orgsim.testing import Sim
from tests.orgsim.conftest import Org, call, error_of, make_org, new_account_id

SCP, RCP = "SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"
DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})


def policy_names(org: Org, target_id: str, policy_type: str = SCP) -> list[str]:
    response = call(org.client, "list_policies_for_target", TargetId=target_id, Filter=policy_type)
    return sorted(p["Name"] for p in response["Policies"])


def create_account(sim: Sim, org: Org, name: str = "Created", email: str | None = None, **extra: Any) -> str:
    """An account made through CreateAccount, once orgsim's clock has completed it; its id."""
    email = email or f"{name.lower().replace(' ', '-')}-{new_account_id()}@example.com"
    request = call(org.client, "create_account", AccountName=name, Email=email, **extra)["CreateAccountStatus"]
    sim.advance(ASYNC_SECONDS)
    status = call(org.client, "describe_create_account_status", CreateAccountRequestId=request["Id"])
    assert status["CreateAccountStatus"]["State"] == "SUCCEEDED"
    return str(status["CreateAccountStatus"]["AccountId"])


# --- managed policies ---------------------------------------------------------------------------


def test_full_aws_access_reaches_root_every_ou_and_every_account_new_ones_included(sim: Sim, org: Org) -> None:
    member = org.add_member()
    ou = org.client.create_organizational_unit(ParentId=org.root_id, Name="Before")["OrganizationalUnit"]["Id"]
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    for target in (org.root_id, ou, member, org.account_id):
        assert policy_names(org, target) == ["FullAWSAccess"], target
    later_ou = org.client.create_organizational_unit(ParentId=ou, Name="After")["OrganizationalUnit"]["Id"]
    invited = org.add_member()
    created = create_account(sim, org)
    for target in (later_ou, invited, created):
        assert policy_names(org, target) == ["FullAWSAccess"], target
    full = org.client.list_policies(Filter=SCP)["Policies"][0]
    targets = call(org.client, "list_targets_for_policy", PolicyId=full["Id"])["Targets"]
    assert {t["TargetId"] for t in targets} == {org.root_id, ou, later_ou, member, invited, created, org.account_id}
    # What AWS's FullAWSAccess is: its own ARN (account "aws"), managed, allowing everything.
    assert full["Arn"] == "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    assert full["AwsManaged"] is True


def test_rcp_full_aws_access_is_attached_everywhere_and_cannot_be_detached(sim: Sim, org: Org) -> None:
    member = org.add_member()
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=RCP)
    ou = org.client.create_organizational_unit(ParentId=org.root_id, Name="Workloads")["OrganizationalUnit"]["Id"]
    for target in (org.root_id, ou, member):
        assert policy_names(org, target, RCP) == ["RCPFullAWSAccess"]
    policy = call(org.client, "describe_policy", PolicyId="p-RCPFullAWSAccess")["Policy"]
    assert policy["PolicySummary"]["Arn"] == (
        "arn:aws:organizations::aws:policy/resource_control_policy/p-RCPFullAWSAccess"
    )
    assert json.loads(policy["Content"])["Statement"][0]["Principal"] == "*"
    # Even with another RCP beside it, RCPFullAWSAccess stays (RCP evaluation, user guide).
    mine = org.client.create_policy(Name="Deny", Description="", Type=RCP, Content=DENY_ALL)["Policy"]
    org.client.attach_policy(PolicyId=mine["PolicySummary"]["Id"], TargetId=member)
    with pytest.raises(ClientError) as excinfo:
        org.client.detach_policy(PolicyId="p-RCPFullAWSAccess", TargetId=member)
    assert error_of(excinfo) == ("InvalidInputException", "NON_DETACHABLE_POLICY")


def test_aws_managed_policies_cannot_be_updated_or_deleted(org: Org) -> None:
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    for change in (
        lambda: org.client.update_policy(PolicyId="p-FullAWSAccess", Description="mine now"),
        lambda: org.client.delete_policy(PolicyId="p-FullAWSAccess"),
    ):
        with pytest.raises(ClientError) as excinfo:
            change()
        assert error_of(excinfo) == ("InvalidInputException", "IMMUTABLE_POLICY")


def test_the_last_scp_of_a_target_cannot_be_detached_but_a_second_one_frees_the_first(org: Org) -> None:
    member = org.add_member()
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    with pytest.raises(ClientError) as excinfo:
        org.client.detach_policy(PolicyId="p-FullAWSAccess", TargetId=member)
    assert error_of(excinfo) == ("ConstraintViolationException", "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    deny = org.client.create_policy(Name="Deny", Description="", Type=SCP, Content=DENY_ALL)["Policy"]
    org.client.attach_policy(PolicyId=deny["PolicySummary"]["Id"], TargetId=member)
    org.client.detach_policy(PolicyId="p-FullAWSAccess", TargetId=member)
    assert policy_names(org, member) == ["Deny"]


def test_disabling_scps_detaches_them_and_available_policy_types_follow_the_root(org: Org) -> None:
    assert call(org.client, "describe_organization")["Organization"]["AvailablePolicyTypes"] == []
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    described = call(org.client, "describe_organization")["Organization"]
    assert described["AvailablePolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    member = org.add_member()
    org.client.disable_policy_type(RootId=org.root_id, PolicyType=SCP)
    assert policy_names(org, member) == []
    assert call(org.client, "describe_organization")["Organization"]["AvailablePolicyTypes"] == []


# --- account creation ----------------------------------------------------------------------------


def test_create_account_is_in_progress_then_succeeds_on_orgsims_clock(sim: Sim, org: Org) -> None:
    request = call(
        org.client,
        "create_account",
        AccountName="Data Lake",
        Email="data-lake@example.com",
        Tags=[{"Key": "team", "Value": "data"}],
    )["CreateAccountStatus"]
    assert request["Id"].startswith("car-") and request["State"] == "IN_PROGRESS"
    assert "AccountId" not in request
    # Not a member yet: AWS creates accounts asynchronously (moto answers SUCCEEDED at once).
    assert [a["Id"] for a in org.client.list_accounts()["Accounts"]] == [org.account_id]
    sim.advance(ASYNC_SECONDS)
    done = call(org.client, "describe_create_account_status", CreateAccountRequestId=request["Id"])
    status = done["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED" and status["CompletedTimestamp"] >= status["RequestedTimestamp"]
    account = call(org.client, "describe_account", AccountId=status["AccountId"])["Account"]
    assert (account["Name"], account["Email"], account["JoinedMethod"]) == (
        "Data Lake",
        "data-lake@example.com",
        "CREATED",
    )
    assert account["Arn"] == f"arn:aws:organizations::{org.account_id}:account/{org.id}/{account['Id']}"
    tags = org.client.list_tags_for_resource(ResourceId=account["Id"])["Tags"]
    assert tags == [{"Key": "team", "Value": "data"}]
    parents = org.client.list_parents(ChildId=account["Id"])["Parents"]
    assert parents == [{"Id": org.root_id, "Type": "ROOT"}]


def test_create_account_with_a_taken_email_fails_and_statuses_filter_by_state(sim: Sim, org: Org) -> None:
    taken = call(org.client, "describe_account", AccountId=org.account_id)["Account"]["Email"]
    failed = org.client.create_account(AccountName="Twin", Email=taken)["CreateAccountStatus"]
    good = org.client.create_account(AccountName="Fresh", Email="fresh@example.com")["CreateAccountStatus"]
    sim.advance(ASYNC_SECONDS)
    status = org.client.describe_create_account_status(CreateAccountRequestId=failed["Id"])["CreateAccountStatus"]
    assert (status["State"], status["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    listed = call(org.client, "list_create_account_status", MaxResults=1)
    assert len(listed["CreateAccountStatuses"]) == 1 and listed["NextToken"]
    rest = org.client.list_create_account_status(MaxResults=1, NextToken=listed["NextToken"])
    assert [s["Id"] for s in listed["CreateAccountStatuses"] + rest["CreateAccountStatuses"]] == [
        failed["Id"],
        good["Id"],
    ]
    succeeded = org.client.list_create_account_status(States=["SUCCEEDED"])["CreateAccountStatuses"]
    assert [s["Id"] for s in succeeded] == [good["Id"]]
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_create_account_status(CreateAccountRequestId="car-0123456789ab")
    assert error_of(excinfo)[0] == "CreateAccountStatusNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == exception_message("CreateAccountStatusNotFoundException")


def test_only_the_management_account_creates_accounts_and_govcloud_pairs_an_id(sim: Sim, org: Org) -> None:
    member = org.add_member()
    with pytest.raises(ClientError) as excinfo:
        sim.client(member).create_account(AccountName="Nope", Email="nope@example.com")
    assert error_of(excinfo)[0] == "AccessDeniedException"
    request = call(org.client, "create_gov_cloud_account", AccountName="Gov", Email="gov@example.com")
    sim.advance(ASYNC_SECONDS)
    status = org.client.describe_create_account_status(CreateAccountRequestId=request["CreateAccountStatus"]["Id"])
    assert status["CreateAccountStatus"]["GovCloudAccountId"] != status["CreateAccountStatus"]["AccountId"]


# --- account closure -----------------------------------------------------------------------------


def test_close_account_suspends_it_then_it_is_gone_after_90_days(sim: Sim, org: Org) -> None:
    member = create_account(sim, org, "Short lived")
    call(org.client, "close_account", AccountId=member)
    assert org.client.describe_account(AccountId=member)["Account"]["Status"] == "PENDING_CLOSURE"
    sim.advance(ASYNC_SECONDS)
    account = call(org.client, "describe_account", AccountId=member)["Account"]
    assert (account["Status"], account["State"]) == ("SUSPENDED", "SUSPENDED")
    with pytest.raises(ClientError) as excinfo:
        org.client.close_account(AccountId=member)
    assert error_of(excinfo)[0] == "AccountAlreadyClosedException"
    sim.advance(90 * 86400)
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_account(AccountId=member)
    assert error_of(excinfo)[0] == "AccountNotFoundException"
    assert member not in [a["Id"] for a in org.client.list_accounts()["Accounts"]]


def test_close_account_refuses_the_management_account_and_strangers(org: Org) -> None:
    with pytest.raises(ClientError) as excinfo:
        org.client.close_account(AccountId=org.account_id)
    assert error_of(excinfo) == ("ConstraintViolationException", "CANNOT_CLOSE_MANAGEMENT_ACCOUNT")
    with pytest.raises(ClientError) as excinfo:
        org.client.close_account(AccountId="999999999999")
    assert error_of(excinfo)[0] == "AccountNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == exception_message("AccountNotFoundException")


# --- OUs and moving accounts ---------------------------------------------------------------------


def test_update_and_delete_organizational_units(org: Org) -> None:
    client = org.client
    first = client.create_organizational_unit(ParentId=org.root_id, Name="First")["OrganizationalUnit"]["Id"]
    client.create_organizational_unit(ParentId=org.root_id, Name="Second")
    renamed = call(client, "update_organizational_unit", OrganizationalUnitId=first, Name="Renamed")
    assert renamed["OrganizationalUnit"]["Name"] == "Renamed"
    with pytest.raises(ClientError) as excinfo:
        client.update_organizational_unit(OrganizationalUnitId=first, Name="Second")
    assert error_of(excinfo)[0] == "DuplicateOrganizationalUnitException"
    member = org.add_member()
    client.move_account(AccountId=member, SourceParentId=org.root_id, DestinationParentId=first)
    with pytest.raises(ClientError) as excinfo:
        client.delete_organizational_unit(OrganizationalUnitId=first)
    assert error_of(excinfo)[0] == "OrganizationalUnitNotEmptyException"
    client.move_account(AccountId=member, SourceParentId=first, DestinationParentId=org.root_id)
    call(client, "delete_organizational_unit", OrganizationalUnitId=first)
    with pytest.raises(ClientError) as excinfo:
        client.describe_organizational_unit(OrganizationalUnitId=first)
    assert error_of(excinfo)[0] == "OrganizationalUnitNotFoundException"
    names = [
        ou["Name"] for ou in client.list_organizational_units_for_parent(ParentId=org.root_id)["OrganizationalUnits"]
    ]
    assert names == ["Second"]


def test_move_account_errors(org: Org) -> None:
    client = org.client
    member = org.add_member()
    ou = client.create_organizational_unit(ParentId=org.root_id, Name="Target")["OrganizationalUnit"]["Id"]
    cases = [
        ({"SourceParentId": ou, "DestinationParentId": org.root_id}, "SourceParentNotFoundException"),
        (
            {"SourceParentId": org.root_id, "DestinationParentId": "ou-zzzz-zzzzzzzz"},
            "DestinationParentNotFoundException",
        ),
        ({"SourceParentId": org.root_id, "DestinationParentId": org.root_id}, "DuplicateAccountException"),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as excinfo:
            client.move_account(AccountId=member, **params)
        assert error_of(excinfo)[0] == code
        assert excinfo.value.response["Error"]["Message"] == exception_message(code)


# --- trusted access and delegated administrators --------------------------------------------------


def test_aws_service_access_enable_list_disable(org: Org) -> None:
    client = org.client
    call(client, "enable_aws_service_access", ServicePrincipal="config.amazonaws.com")
    client.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")  # twice: no change
    client.enable_aws_service_access(ServicePrincipal="ssm.amazonaws.com")
    enabled = call(client, "list_aws_service_access_for_organization")["EnabledServicePrincipals"]
    assert [e["ServicePrincipal"] for e in enabled] == ["config.amazonaws.com", "ssm.amazonaws.com"]
    client.disable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    enabled = client.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [e["ServicePrincipal"] for e in enabled] == ["ssm.amazonaws.com"]
    with pytest.raises(ClientError) as excinfo:
        client.enable_aws_service_access(ServicePrincipal="moto.amazonaws.com")
    assert error_of(excinfo) == ("InvalidInputException", "UNRECOGNIZED_SERVICE_PRINCIPAL")


def test_delegated_administrators_register_list_deregister(sim: Sim, org: Org) -> None:
    client = org.client
    member, other = org.add_member(), org.add_member()
    # The model documents SERVICE_ACCESS_NOT_ENABLED for a service without trusted access
    # (moto registers regardless): AWS wins.
    with pytest.raises(ClientError) as excinfo:
        client.register_delegated_administrator(AccountId=member, ServicePrincipal="ssm.amazonaws.com")
    assert error_of(excinfo) == ("ConstraintViolationException", "SERVICE_ACCESS_NOT_ENABLED")
    for principal in ("ssm.amazonaws.com", "guardduty.amazonaws.com"):
        client.enable_aws_service_access(ServicePrincipal=principal)
    call(client, "register_delegated_administrator", AccountId=member, ServicePrincipal="ssm.amazonaws.com")
    client.register_delegated_administrator(AccountId=member, ServicePrincipal="guardduty.amazonaws.com")
    client.register_delegated_administrator(AccountId=other, ServicePrincipal="guardduty.amazonaws.com")
    with pytest.raises(ClientError) as excinfo:
        client.register_delegated_administrator(AccountId=member, ServicePrincipal="ssm.amazonaws.com")
    assert error_of(excinfo)[0] == "AccountAlreadyRegisteredException"
    with pytest.raises(ClientError) as excinfo:
        client.register_delegated_administrator(AccountId=org.account_id, ServicePrincipal="ssm.amazonaws.com")
    assert error_of(excinfo) == ("ConstraintViolationException", "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR")
    with pytest.raises(ClientError) as excinfo:
        client.register_delegated_administrator(AccountId="999999999999", ServicePrincipal="ssm.amazonaws.com")
    assert error_of(excinfo)[0] == "AccountNotFoundException"

    admins = call(client, "list_delegated_administrators")["DelegatedAdministrators"]
    assert sorted(a["Id"] for a in admins) == sorted([member, other])
    ssm = client.list_delegated_administrators(ServicePrincipal="ssm.amazonaws.com")["DelegatedAdministrators"]
    assert [a["Id"] for a in ssm] == [member] and ssm[0]["JoinedMethod"] == "INVITED"
    services = call(client, "list_delegated_services_for_account", AccountId=member)["DelegatedServices"]
    assert [s["ServicePrincipal"] for s in services] == ["guardduty.amazonaws.com", "ssm.amazonaws.com"]

    # A delegated administrator cannot be removed from the organization until deregistered.
    with pytest.raises(ClientError) as excinfo:
        client.remove_account_from_organization(AccountId=other)
    assert error_of(excinfo) == ("ConstraintViolationException", "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG")
    call(client, "deregister_delegated_administrator", AccountId=other, ServicePrincipal="guardduty.amazonaws.com")
    with pytest.raises(ClientError) as excinfo:
        client.deregister_delegated_administrator(AccountId=other, ServicePrincipal="guardduty.amazonaws.com")
    assert error_of(excinfo)[0] == "AccountNotRegisteredException"
    with pytest.raises(ClientError) as excinfo:
        client.list_delegated_services_for_account(AccountId=other)
    assert error_of(excinfo)[0] == "AccountNotRegisteredException"
    client.remove_account_from_organization(AccountId=other)


# --- resource policy, organization deletion ----------------------------------------------------------


def test_resource_policy_put_describe_delete(sim: Sim, org: Org) -> None:
    client = org.client
    with pytest.raises(ClientError) as excinfo:
        client.describe_resource_policy()
    assert error_of(excinfo)[0] == "ResourcePolicyNotFoundException"
    content = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{org.add_member()}:root"},
                    "Action": "organizations:Describe*",
                    "Resource": "*",
                }
            ],
        }
    )
    put = call(client, "put_resource_policy", Content=content, Tags=[{"Key": "k", "Value": "v"}])
    summary = put["ResourcePolicy"]["ResourcePolicySummary"]
    assert summary["Arn"] == f"arn:aws:organizations::{org.account_id}:resourcepolicy/{org.id}/{summary['Id']}"
    assert client.list_tags_for_resource(ResourceId=summary["Id"])["Tags"] == [{"Key": "k", "Value": "v"}]
    assert call(client, "describe_resource_policy")["ResourcePolicy"]["Content"] == content
    with pytest.raises(ClientError) as excinfo:
        client.put_resource_policy(Content="{not json")
    assert error_of(excinfo) == ("InvalidInputException", "INVALID_RESOURCE_POLICY_JSON")
    call(client, "delete_resource_policy")
    with pytest.raises(ClientError) as excinfo:
        client.delete_resource_policy()
    assert error_of(excinfo)[0] == "ResourcePolicyNotFoundException"


def test_delete_organization_needs_it_empty_and_then_the_account_is_standalone(sim: Sim, org: Org) -> None:
    member = org.add_member()
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    with pytest.raises(ClientError) as excinfo:
        org.client.delete_organization()
    assert error_of(excinfo)[0] == "OrganizationNotEmptyException"
    org.client.remove_account_from_organization(AccountId=member)
    call(org.client, "delete_organization")
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_organization()
    assert error_of(excinfo)[0] == "AWSOrganizationsNotInUseException"
    again = make_org(sim, org.account_id)  # the former management account can start over
    assert again.id != org.id and policy_names(again, again.root_id) == []


# --- ARNs, wording --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-west-1", "aws")]
)
def test_arns_carry_the_partition_of_the_signed_region(sim: Sim, region: str, partition: str) -> None:
    client = sim.client(new_account_id(), region_name=region)
    organization = client.create_organization(FeatureSet="ALL")["Organization"]
    assert organization["Arn"].startswith(f"arn:{partition}:organizations::")
    root = client.list_roots()["Roots"][0]
    assert (
        root["Arn"]
        == f"arn:{partition}:organizations::{organization['MasterAccountId']}:root/{organization['Id']}/{root['Id']}"
    )
    client.enable_policy_type(RootId=root["Id"], PolicyType=SCP)
    full = client.list_policies(Filter=SCP)["Policies"][0]
    assert full["Arn"] == f"arn:{partition}:organizations::aws:policy/service_control_policy/p-FullAWSAccess"


def test_not_found_errors_use_the_models_wording(org: Org) -> None:
    org.client.enable_policy_type(RootId=org.root_id, PolicyType=SCP)
    cases = [
        (lambda: org.client.describe_policy(PolicyId="p-0123456789"), "PolicyNotFoundException"),
        (lambda: org.client.enable_policy_type(RootId="r-zzzz", PolicyType=RCP), "RootNotFoundException"),
        (
            lambda: org.client.attach_policy(PolicyId="p-FullAWSAccess", TargetId="ou-zzzz-zzzzzzzz"),
            "TargetNotFoundException",
        ),
    ]
    for attempt, code in cases:
        with pytest.raises(ClientError) as excinfo:
            attempt()
        assert error_of(excinfo)[0] == code
        message = excinfo.value.response["Error"]["Message"]
        assert message == exception_message(code) and message.startswith("We can't find")
        assert "p-0123456789" not in message and "r-zzzz" not in message


# --- coverage ----------------------------------------------------------------------------------------


def test_readme_coverage_table_is_the_one_generated_from_the_registry() -> None:
    written = coverage.readme_table(coverage.README.read_text())
    assert written == coverage.table(), "run `python -m orgsim coverage --write` and commit orgsim/README.md"
    assert "not implemented" not in written
