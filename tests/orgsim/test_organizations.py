"""Organizations, roots, OUs, accounts and tags through real boto3, answers checked against the model."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.orgsim.conftest import Org, call, error_of, make_org, new_account_id


def test_create_and_describe_organization(sim: Any) -> None:
    account = new_account_id()
    client = sim.client(account)
    org = call(client, "create_organization", FeatureSet="ALL")["Organization"]
    assert org["MasterAccountId"] == account and org["FeatureSet"] == "ALL"
    assert call(client, "describe_organization")["Organization"] == org
    with pytest.raises(ClientError) as excinfo:
        client.create_organization()
    assert error_of(excinfo)[0] == "AlreadyInOrganizationException"


def test_list_roots_with_empty_policy_types(org: Org) -> None:
    roots = call(org.client, "list_roots")["Roots"]
    assert [r["Id"] for r in roots] == [org.root_id]
    assert roots[0]["PolicyTypes"] == []


def test_members_cannot_read_the_organization_tree(sim: Any, org: Org) -> None:
    member = sim.client(org.add_member())
    assert call(member, "describe_organization")["Organization"]["Id"] == org.id
    for method, params in [
        ("list_roots", {}),
        ("list_accounts", {}),
        ("list_handshakes_for_organization", {}),
        ("describe_account", {"AccountId": org.account_id}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            getattr(member, method)(**params)
        assert error_of(excinfo)[0] == "AccessDeniedException"


def test_standalone_account_is_not_in_use(sim: Any) -> None:
    client = sim.client(new_account_id())
    for method, params in [
        ("describe_organization", {}),
        ("list_accounts", {}),
        ("list_roots", {}),
        ("leave_organization", {}),
        ("list_inbound_responsibility_transfers", {"Type": "BILLING"}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            getattr(client, method)(**params)
        assert error_of(excinfo)[0] == "AWSOrganizationsNotInUseException"


def test_accounts_pages_and_describe(sim: Any, org: Org) -> None:
    members = [org.add_member() for _ in range(4)]
    seen: list[str] = []
    token = None
    while True:
        page = call(org.client, "list_accounts", MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["Accounts"]) <= 2
        seen += [a["Id"] for a in page["Accounts"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted([org.account_id, *members])
    account = call(org.client, "describe_account", AccountId=members[0])["Account"]
    assert account["JoinedMethod"] == "INVITED" and account["Paths"] == [f"{org.id}/{org.root_id}/{members[0]}/"]
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_account(AccountId="000000000001")
    assert error_of(excinfo)[0] == "AccountNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        org.client.list_accounts(NextToken="bm90IGEgdG9rZW4=")
    assert error_of(excinfo) == ("InvalidInputException", "INVALID_NEXT_TOKEN")


def test_ous_children_parents_move(sim: Any, org: Org) -> None:
    member = org.add_member()
    ou = call(
        org.client,
        "create_organizational_unit",
        ParentId=org.root_id,
        Name="Production",
        Tags=[{"Key": "env", "Value": "prod"}],
    )["OrganizationalUnit"]
    nested = call(org.client, "create_organizational_unit", ParentId=ou["Id"], Name="Payments")["OrganizationalUnit"]
    assert nested["Path"] == f"{org.id}/{org.root_id}/{ou['Id']}/{nested['Id']}/"
    with pytest.raises(ClientError) as excinfo:
        org.client.create_organizational_unit(ParentId=org.root_id, Name="Production")
    assert error_of(excinfo)[0] == "DuplicateOrganizationalUnitException"
    with pytest.raises(ClientError) as excinfo:
        org.client.create_organizational_unit(ParentId="ou-zzzz-zzzzzzzz", Name="x")
    assert error_of(excinfo)[0] == "ParentNotFoundException"
    assert call(org.client, "describe_organizational_unit", OrganizationalUnitId=ou["Id"])["OrganizationalUnit"] == ou
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_organizational_unit(OrganizationalUnitId="ou-zzzz-zzzzzzzz")
    assert error_of(excinfo)[0] == "OrganizationalUnitNotFoundException"
    assert [
        o["Id"]
        for o in call(org.client, "list_organizational_units_for_parent", ParentId=org.root_id)["OrganizationalUnits"]
    ] == [ou["Id"]]
    call(org.client, "move_account", AccountId=member, SourceParentId=org.root_id, DestinationParentId=nested["Id"])
    assert call(org.client, "list_parents", ChildId=member)["Parents"] == [
        {"Id": nested["Id"], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    assert call(org.client, "list_parents", ChildId=nested["Id"])["Parents"] == [
        {"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    assert call(org.client, "list_children", ParentId=nested["Id"], ChildType="ACCOUNT")["Children"] == [
        {"Id": member, "Type": "ACCOUNT"}
    ]
    assert call(org.client, "list_children", ParentId=org.root_id, ChildType="ORGANIZATIONAL_UNIT")["Children"] == [
        {"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    assert [a["Id"] for a in call(org.client, "list_accounts_for_parent", ParentId=nested["Id"])["Accounts"]] == [
        member
    ]
    with pytest.raises(ClientError) as excinfo:
        org.client.move_account(AccountId=member, SourceParentId=org.root_id, DestinationParentId=ou["Id"])
    assert error_of(excinfo)[0] == "SourceParentNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        org.client.move_account(AccountId=member, SourceParentId=nested["Id"], DestinationParentId=nested["Id"])
    assert error_of(excinfo)[0] == "DuplicateAccountException"
    with pytest.raises(ClientError) as excinfo:
        org.client.move_account(AccountId=member, SourceParentId=nested["Id"], DestinationParentId="ou-zzzz-zzzzzzzz")
    assert error_of(excinfo)[0] == "DestinationParentNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        org.client.list_parents(ChildId="000000000009")
    assert error_of(excinfo)[0] == "ChildNotFoundException"


def test_ou_depth_limit(org: Org) -> None:
    parent = org.root_id
    for depth in range(5):
        parent = org.client.create_organizational_unit(ParentId=parent, Name=f"level{depth}")["OrganizationalUnit"][
            "Id"
        ]
    with pytest.raises(ClientError) as excinfo:
        org.client.create_organizational_unit(ParentId=parent, Name="too deep")
    assert error_of(excinfo) == ("ConstraintViolationException", "OU_DEPTH_LIMIT_EXCEEDED")


def test_tags(sim: Any, org: Org) -> None:
    member = org.add_member()
    for resource in (member, org.root_id):
        call(
            org.client,
            "tag_resource",
            ResourceId=resource,
            Tags=[{"Key": "team", "Value": "finance"}, {"Key": "env", "Value": "prod"}],
        )
        assert call(org.client, "list_tags_for_resource", ResourceId=resource)["Tags"] == [
            {"Key": "env", "Value": "prod"},
            {"Key": "team", "Value": "finance"},
        ]
        call(org.client, "untag_resource", ResourceId=resource, TagKeys=["team"])
        assert call(org.client, "list_tags_for_resource", ResourceId=resource)["Tags"] == [
            {"Key": "env", "Value": "prod"}
        ]
    with pytest.raises(ClientError) as excinfo:
        org.client.tag_resource(ResourceId="000000000009", Tags=[{"Key": "a", "Value": "b"}])
    assert error_of(excinfo)[0] == "TargetNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        org.client.tag_resource(ResourceId=member, Tags=[{"Key": "a", "Value": "b"}, {"Key": "a", "Value": "c"}])
    assert error_of(excinfo) == ("InvalidInputException", "DUPLICATE_TAG_KEY")
    with pytest.raises(ClientError) as excinfo:
        org.client.tag_resource(ResourceId=member, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error_of(excinfo) == ("ConstraintViolationException", "MAX_TAG_LIMIT_EXCEEDED")
    call(org.client, "tag_resource", ResourceId=member, Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(45)])
    keys: list[str] = []
    page = call(org.client, "list_tags_for_resource", ResourceId=member)
    while True:
        keys += [t["Key"] for t in page["Tags"]]
        if "NextToken" not in page:
            break
        page = call(org.client, "list_tags_for_resource", ResourceId=member, NextToken=page["NextToken"])
    assert keys == sorted(keys) and len(keys) == 46


def test_remove_leave_delete(sim: Any, org: Org) -> None:
    first, second = org.add_member(), org.add_member()
    call(org.client, "remove_account_from_organization", AccountId=first)
    with pytest.raises(ClientError) as excinfo:
        org.client.remove_account_from_organization(AccountId=first)
    assert error_of(excinfo)[0] == "AccountNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        org.client.remove_account_from_organization(AccountId=org.account_id)
    assert error_of(excinfo)[0] == "MasterCannotLeaveOrganizationException"
    with pytest.raises(ClientError) as excinfo:
        org.client.leave_organization()
    assert error_of(excinfo)[0] == "MasterCannotLeaveOrganizationException"
    with pytest.raises(ClientError) as excinfo:
        org.client.delete_organization()
    assert error_of(excinfo)[0] == "OrganizationNotEmptyException"
    call(sim.client(second), "leave_organization")
    call(org.client, "delete_organization")
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_organization()
    assert error_of(excinfo)[0] == "AWSOrganizationsNotInUseException"


def test_enable_all_features_flow(sim: Any) -> None:
    org = make_org(sim, feature_set="CONSOLIDATED_BILLING")
    members = [org.add_member() for _ in range(2)]
    parent = call(org.client, "enable_all_features")["Handshake"]
    assert parent["Action"] == "ENABLE_ALL_FEATURES"
    children = call(org.client, "list_handshakes_for_organization", Filter={"ParentHandshakeId": parent["Id"]})[
        "Handshakes"
    ]
    assert sorted(h["Parties"][1]["Id"] for h in children) == sorted(members)
    assert all(h["Action"] == "APPROVE_ALL_FEATURES" for h in children)
    with pytest.raises(ClientError) as excinfo:
        org.client.enable_all_features()
    assert error_of(excinfo) == (
        "HandshakeConstraintViolationException",
        "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
    )
    with pytest.raises(ClientError) as excinfo:
        org.client.invite_account_to_organization(Target={"Id": new_account_id(), "Type": "ACCOUNT"})
    assert error_of(excinfo) == ("HandshakeConstraintViolationException", "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES")
    with pytest.raises(ClientError) as excinfo:
        org.client.accept_handshake(HandshakeId=parent["Id"])
    assert error_of(excinfo)[0] == "InvalidHandshakeTransitionException"
    for child in children:
        member = child["Parties"][1]["Id"]
        assert call(sim.client(member), "accept_handshake", HandshakeId=child["Id"])["Handshake"]["State"] == "ACCEPTED"
    assert call(org.client, "accept_handshake", HandshakeId=parent["Id"])["Handshake"]["State"] == "ACCEPTED"
    assert org.client.describe_organization()["Organization"]["FeatureSet"] == "ALL"
    with pytest.raises(ClientError) as excinfo:
        org.client.enable_all_features()
    assert error_of(excinfo) == ("HandshakeConstraintViolationException", "ORGANIZATION_ALREADY_HAS_ALL_FEATURES")


def test_enable_all_features_declined_by_a_member_cancels_the_switch(sim: Any) -> None:
    org = make_org(sim, feature_set="CONSOLIDATED_BILLING")
    member = org.add_member()
    parent = org.client.enable_all_features()["Handshake"]
    child = org.client.list_handshakes_for_organization(Filter={"ParentHandshakeId": parent["Id"]})["Handshakes"][0]
    assert call(sim.client(member), "decline_handshake", HandshakeId=child["Id"])["Handshake"]["State"] == "DECLINED"
    assert org.client.describe_handshake(HandshakeId=parent["Id"])["Handshake"]["State"] == "CANCELED"
    assert org.client.describe_organization()["Organization"]["FeatureSet"] == "CONSOLIDATED_BILLING"
