"""INVITE handshakes, moving accounts between organizations, list filters, pagination, the demo."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.orgsim.conftest import Org, call, error_of, make_org, new_account_id


def test_invite_by_id_accept_and_describe(sim: Any, org: Org) -> None:
    account = new_account_id()
    handshake = call(
        org.client,
        "invite_account_to_organization",
        Target={"Id": account, "Type": "ACCOUNT"},
        Notes="Join us",
        Tags=[{"Key": "team", "Value": "data"}],
    )["Handshake"]
    assert handshake["State"] == "OPEN" and handshake["Action"] == "INVITE"
    assert (handshake["ExpirationTimestamp"] - handshake["RequestedTimestamp"]).days == 15
    invited = sim.client(account)
    assert [h["Id"] for h in call(invited, "list_handshakes_for_account")["Handshakes"]] == [handshake["Id"]]
    assert call(invited, "describe_handshake", HandshakeId=handshake["Id"])["Handshake"]["Id"] == handshake["Id"]
    with pytest.raises(ClientError) as excinfo:
        org.client.invite_account_to_organization(Target={"Id": account, "Type": "ACCOUNT"})
    assert error_of(excinfo)[0] == "DuplicateHandshakeException"
    assert call(invited, "accept_handshake", HandshakeId=handshake["Id"])["Handshake"]["State"] == "ACCEPTED"
    assert invited.describe_organization()["Organization"]["Id"] == org.id
    assert org.client.list_tags_for_resource(ResourceId=account)["Tags"] == [{"Key": "team", "Value": "data"}]
    with pytest.raises(ClientError) as excinfo:
        invited.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "HandshakeAlreadyInStateException"
    with pytest.raises(ClientError) as excinfo:
        org.client.invite_account_to_organization(Target={"Id": account, "Type": "ACCOUNT"})
    assert error_of(excinfo) == ("HandshakeConstraintViolationException", "ALREADY_IN_AN_ORGANIZATION")


def test_invite_by_email(sim: Any, org: Org) -> None:
    handshake = call(
        org.client, "invite_account_to_organization", Target={"Id": "new.person@example.com", "Type": "EMAIL"}
    )["Handshake"]
    assert handshake["Parties"][1] == {"Id": "new.person@example.com", "Type": "EMAIL"}
    assert handshake["Resources"][1] == {"Type": "EMAIL", "Value": "new.person@example.com"}


def test_invite_errors(sim: Any, org: Org) -> None:
    other = make_org(sim)
    member = org.add_member()
    cases = [
        (
            org.client,
            {"Id": other.account_id, "Type": "ACCOUNT"},
            ("HandshakeConstraintViolationException", "ALREADY_IN_AN_ORGANIZATION"),
        ),
        (
            org.client,
            {"Id": "o-abcdefghij", "Type": "ORGANIZATION"},
            ("InvalidInputException", "INVALID_PARTY_TYPE_TARGET"),
        ),
        (sim.client(member), {"Id": new_account_id(), "Type": "ACCOUNT"}, ("AccessDeniedException", None)),
        (
            sim.client(new_account_id()),
            {"Id": new_account_id(), "Type": "ACCOUNT"},
            ("AWSOrganizationsNotInUseException", None),
        ),
    ]
    for client, target, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            client.invite_account_to_organization(Target=target)
        assert error_of(excinfo) == expected


def test_an_account_moves_between_organizations(sim: Any) -> None:
    old, new = make_org(sim), make_org(sim)
    account = old.add_member()
    handshake = new.client.invite_account_to_organization(Target={"Id": account, "Type": "ACCOUNT"})["Handshake"]
    sim.client(account).accept_handshake(HandshakeId=handshake["Id"])
    assert sim.client(account).describe_organization()["Organization"]["Id"] == new.id
    assert account not in [a["Id"] for a in old.client.list_accounts()["Accounts"]]
    assert account in [a["Id"] for a in new.client.list_accounts()["Accounts"]]


def test_only_the_recipient_accepts_and_only_the_sender_cancels(sim: Any, org: Org) -> None:
    account = new_account_id()
    handshake = org.client.invite_account_to_organization(Target={"Id": account, "Type": "ACCOUNT"})["Handshake"]
    with pytest.raises(ClientError) as excinfo:
        org.client.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        sim.client(account).cancel_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert call(org.client, "cancel_handshake", HandshakeId=handshake["Id"])["Handshake"]["State"] == "CANCELED"
    with pytest.raises(ClientError) as excinfo:
        sim.client(account).accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "InvalidHandshakeTransitionException"
    with pytest.raises(ClientError) as excinfo:
        org.client.describe_handshake(HandshakeId="h-000000000000")
    assert error_of(excinfo)[0] == "HandshakeNotFoundException"


def test_pagination_filters_and_tokens(sim: Any, org: Org) -> None:
    invited = [
        org.client.invite_account_to_organization(Target={"Id": new_account_id(), "Type": "ACCOUNT"})["Handshake"]["Id"]
        for _ in range(7)
    ]
    seen: list[str] = []
    token = None
    while True:
        page = call(
            org.client,
            "list_handshakes_for_organization",
            MaxResults=3,
            Filter={"ActionType": "INVITE"},
            **({"NextToken": token} if token else {}),
        )
        seen += [h["Id"] for h in page["Handshakes"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == invited
    assert (
        org.client.list_handshakes_for_organization(Filter={"ActionType": "TRANSFER_RESPONSIBILITY"})["Handshakes"]
        == []
    )
    first = org.client.list_handshakes_for_organization(MaxResults=3)
    for forged in ("garbage", first["NextToken"][:-4] + "AAAA"):
        with pytest.raises(ClientError) as excinfo:
            org.client.list_handshakes_for_organization(NextToken=forged)
        assert error_of(excinfo) == ("InvalidInputException", "INVALID_NEXT_TOKEN")
    with pytest.raises(ClientError) as excinfo:  # a token of another list
        org.client.list_accounts(NextToken=first["NextToken"])
    assert error_of(excinfo) == ("InvalidInputException", "INVALID_NEXT_TOKEN")
    with pytest.raises(ClientError) as excinfo:
        org.client.list_handshakes_for_organization(
            Filter={"ActionType": "INVITE", "ParentHandshakeId": "h-000000000000"}
        )
    assert error_of(excinfo) == ("InvalidInputException", "MAX_LIMIT_EXCEEDED_FILTER")


def test_empty_pages_still_carry_a_next_token(sim: Any, org: Org) -> None:
    invited = [
        org.client.invite_account_to_organization(Target={"Id": new_account_id(), "Type": "ACCOUNT"})["Handshake"]["Id"]
        for _ in range(5)
    ]
    sim.set_faults("ListHandshakesForOrganization", empty_pages=1.0)
    seen: list[str] = []
    empty = 0
    kwargs: dict[str, Any] = {"MaxResults": 2}
    while True:
        page = call(org.client, "list_handshakes_for_organization", **kwargs)
        empty += not page["Handshakes"]
        seen += [h["Id"] for h in page["Handshakes"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == invited and empty == 3


def test_demo_has_every_action_in_every_state(demo: Any) -> None:
    from orgsim.model import enum

    state = demo.dump()
    pairs = {(h["action"], h["state"]) for h in state["handshakes"]}
    missing = {(a, s) for a in enum("ActionType") for s in enum("HandshakeState")} - pairs
    assert not missing, missing
    statuses = {t["status"] for t in state["transfers"]}
    assert set(enum("ResponsibilityTransferStatus")) <= statuses
    summary = demo.summary()
    assert len(summary["organizations"]) >= 4 and summary["counts"]["accounts"] >= 30


def test_demo_serves_the_portal(demo: Any) -> None:
    partner, fabrikam = demo.client("210987654321"), demo.client("433344455566")
    sent = [
        h
        for h in partner.list_handshakes_for_organization(Filter={"ActionType": "TRANSFER_RESPONSIBILITY"})[
            "Handshakes"
        ]
        if h["State"] in ("OPEN", "REQUESTED")
    ]
    assert sent
    received = [
        h
        for h in fabrikam.list_handshakes_for_account(Filter={"ActionType": "TRANSFER_RESPONSIBILITY"})["Handshakes"]
        if h["State"] == "OPEN"
    ]
    assert received
    handshake = received[0]
    days_left = (handshake["ExpirationTimestamp"].timestamp() - demo.now()) / 86400
    assert 0 < days_left < 7
    start = next(r["Value"] for r in handshake["Resources"] if r["Type"] == "TRANSFER_START_TIMESTAMP")
    assert start.endswith("-01T00:00:00Z")
    assert fabrikam.accept_handshake(HandshakeId=handshake["Id"])["Handshake"]["State"] == "ACCEPTED"
