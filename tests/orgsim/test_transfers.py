"""Billing transfers: the whole lifecycle, every rule and error BILLING-TRANSFER.md lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orgsim.ops.transfers import month_end
from tests.orgsim.conftest import Org, call, error_of, make_org, next_month_start

DAY = 86400


def invite(payer: Org, source: Org, start: datetime | None = None, **extra: Any) -> dict[str, Any]:
    start = start or next_month_start(payer.sim.now())
    return call(
        payer.client,
        "invite_organization_to_transfer_responsibility",
        Type="BILLING",
        Target={"Id": source.account_id, "Type": "ACCOUNT"},
        StartTimestamp=start,
        SourceName=extra.pop("SourceName", "Customer org"),
        **extra,
    )["Handshake"]


def transfer_id(handshake: dict[str, Any]) -> str:
    return next(r["Value"] for r in handshake["Resources"] if r["Type"] == "RESPONSIBILITY_TRANSFER")


@pytest.fixture
def pair(sim: Any) -> tuple[Org, Org]:
    return make_org(sim), make_org(sim)


def test_lifecycle_invite_accept_rename_terminate(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    handshake = invite(payer, source, Notes="Welcome aboard", Tags=[{"Key": "contract", "Value": "c-1"}])
    assert handshake["Action"] == "TRANSFER_RESPONSIBILITY" and handshake["State"] == "OPEN"
    types = {r["Type"]: r["Value"] for r in handshake["Resources"]}
    assert {
        "RESPONSIBILITY_TRANSFER",
        "TRANSFER_START_TIMESTAMP",
        "TRANSFER_TYPE",
        "MANAGEMENT_ACCOUNT",
        "MANAGEMENT_EMAIL",
        "MANAGEMENT_NAME",
        "NOTES",
    } <= set(types)
    assert types["MANAGEMENT_ACCOUNT"] == payer.account_id and types["TRANSFER_TYPE"] == "BILLING"
    rt = transfer_id(handshake)
    inbound = call(payer.client, "list_inbound_responsibility_transfers", Type="BILLING")["ResponsibilityTransfers"]
    outbound = call(source.client, "list_outbound_responsibility_transfers", Type="BILLING")["ResponsibilityTransfers"]
    assert [t["Id"] for t in inbound] == [rt] == [t["Id"] for t in outbound]
    assert inbound[0]["Status"] == "REQUESTED" and inbound[0]["ActiveHandshakeId"] == handshake["Id"]
    assert (
        f"{payer.id}/billing/inbound/{rt}" in inbound[0]["Arn"]
        and f"{source.id}/billing/outbound/{rt}" in outbound[0]["Arn"]
    )
    assert (
        inbound[0]["Target"]["ManagementAccountId"] == payer.account_id
        and inbound[0]["Source"]["ManagementAccountId"] == source.account_id
    )
    assert (
        call(payer.client, "list_inbound_responsibility_transfers", Type="BILLING", Id=rt)["ResponsibilityTransfers"][
            0
        ]["Id"]
        == rt
    )
    assert call(payer.client, "list_tags_for_resource", ResourceId=rt)["Tags"] == [{"Key": "contract", "Value": "c-1"}]
    received = call(source.client, "list_handshakes_for_account", Filter={"ActionType": "TRANSFER_RESPONSIBILITY"})[
        "Handshakes"
    ]
    assert [h["Id"] for h in received] == [handshake["Id"]]
    with pytest.raises(ClientError) as excinfo:
        payer.client.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert call(source.client, "accept_handshake", HandshakeId=handshake["Id"])["Handshake"]["State"] == "ACCEPTED"
    described = call(source.client, "describe_responsibility_transfer", Id=rt)["ResponsibilityTransfer"]
    assert described["Status"] == "ACCEPTED"
    renamed = call(payer.client, "update_responsibility_transfer", Id=rt, Name="Renamed customer")[
        "ResponsibilityTransfer"
    ]
    assert renamed["Name"] == "Renamed customer"
    end = datetime.fromtimestamp(month_end(sim.now(), 1), UTC)
    ended = call(source.client, "terminate_responsibility_transfer", Id=rt, EndTimestamp=end)["ResponsibilityTransfer"]
    assert ended["Status"] == "WITHDRAWN" and ended["EndTimestamp"] == end
    with pytest.raises(ClientError) as excinfo:
        payer.client.terminate_responsibility_transfer(Id=rt)
    assert error_of(excinfo)[0] == "ResponsibilityTransferAlreadyInStatusException"
    with pytest.raises(ClientError) as excinfo:
        payer.client.update_responsibility_transfer(Id=rt, Name="again")
    assert error_of(excinfo) == ("ConstraintViolationException", "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED")


def test_terminate_defaults_to_the_end_of_this_month(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    handshake = invite(payer, source)
    source.client.accept_handshake(HandshakeId=handshake["Id"])
    ended = payer.client.terminate_responsibility_transfer(Id=transfer_id(handshake))["ResponsibilityTransfer"]
    assert ended["EndTimestamp"].timestamp() == month_end(sim.now())


@pytest.mark.parametrize(
    ("shift", "reason"),
    [
        (lambda end, now: end - timedelta(hours=1), "END_DATE_NOT_END_OF_MONTH"),
        (lambda end, now: datetime.fromtimestamp(month_end(now, -1), UTC), "END_DATE_TOO_EARLY"),
        (lambda end, now: datetime.fromtimestamp(month_end(now, 2), UTC), "END_DATE_TOO_LATE"),
    ],
)
def test_terminate_end_dates(sim: Any, pair: tuple[Org, Org], shift: Any, reason: str) -> None:
    payer, source = pair
    handshake = invite(payer, source)
    source.client.accept_handshake(HandshakeId=handshake["Id"])
    now = sim.now()
    with pytest.raises(ClientError) as excinfo:
        payer.client.terminate_responsibility_transfer(
            Id=transfer_id(handshake), EndTimestamp=shift(datetime.fromtimestamp(month_end(now), UTC), now)
        )
    assert error_of(excinfo) == ("InvalidInputException", reason)


def test_terminate_requires_an_accepted_transfer(pair: tuple[Org, Org]) -> None:
    payer, source = pair
    handshake = invite(payer, source)
    with pytest.raises(ClientError) as excinfo:
        payer.client.terminate_responsibility_transfer(Id=transfer_id(handshake))
    assert error_of(excinfo)[0] == "InvalidResponsibilityTransferTransitionException"


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (lambda s: s + timedelta(hours=3), "START_DATE_NOT_BEGINNING_OF_DAY"),
        (lambda s: s + timedelta(days=2), "START_DATE_NOT_BEGINNING_OF_MONTH"),
        (lambda s: datetime(2020, 1, 1, tzinfo=UTC), "START_DATE_TOO_EARLY"),
        (lambda s: s.replace(year=s.year + 3), "START_DATE_TOO_LATE"),
    ],
)
def test_start_dates(sim: Any, pair: tuple[Org, Org], start: Any, reason: str) -> None:
    payer, source = pair
    with pytest.raises(ClientError) as excinfo:
        invite(payer, source, start=start(next_month_start(sim.now())))
    assert error_of(excinfo) == ("InvalidInputException", reason)


def test_invite_rules(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    start = next_month_start(sim.now())
    member = payer.add_member()
    cases = [
        (
            payer.client,
            {"Id": payer.account_id, "Type": "ACCOUNT"},
            ("HandshakeConstraintViolationException", "SOURCE_AND_TARGET_CANNOT_MATCH"),
        ),
        (
            payer.client,
            {"Id": member, "Type": "ACCOUNT"},
            ("HandshakeConstraintViolationException", "SOURCE_AND_TARGET_CANNOT_MATCH"),
        ),
        (
            payer.client,
            {"Id": "o-abcdefghij", "Type": "ORGANIZATION"},
            ("InvalidInputException", "INVALID_PARTY_TYPE_TARGET"),
        ),
        (payer.client, {"Id": "123", "Type": "ACCOUNT"}, ("InvalidInputException", "INVALID_PATTERN_TARGET_ID")),
        (
            payer.client,
            {"Id": "not-an-email", "Type": "EMAIL"},
            ("InvalidInputException", "INVALID_EMAIL_ADDRESS_TARGET"),
        ),
        (
            payer.client,
            {"Id": "444444444444", "Type": "ACCOUNT"},
            ("HandshakeConstraintViolationException", "TARGET_ACCOUNT_VALIDATION_FAILURE"),
        ),
        (sim.client(member), {"Id": source.account_id, "Type": "ACCOUNT"}, ("AccessDeniedException", None)),
        (
            sim.client("555555555555"),
            {"Id": source.account_id, "Type": "ACCOUNT"},
            ("AWSOrganizationsNotInUseException", None),
        ),
    ]
    for client, target, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            client.invite_organization_to_transfer_responsibility(
                Type="BILLING", Target=target, StartTimestamp=start, SourceName="x"
            )
        assert error_of(excinfo) == expected, target
    source_email = source.client.describe_organization()["Organization"]["MasterAccountEmail"]
    handshake = payer.client.invite_organization_to_transfer_responsibility(
        Type="BILLING", Target={"Id": source_email, "Type": "EMAIL"}, StartTimestamp=start, SourceName="by email"
    )["Handshake"]
    assert handshake["Parties"][1] == {"Id": source_email, "Type": "EMAIL"}
    with pytest.raises(ClientError) as excinfo:
        invite(payer, source)
    assert error_of(excinfo)[0] == "DuplicateHandshakeException"
    source.client.accept_handshake(HandshakeId=handshake["Id"])
    with pytest.raises(ClientError) as excinfo:
        invite(payer, source)
    assert error_of(excinfo) == ("HandshakeConstraintViolationException", "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS")


def test_both_organizations_need_all_features(sim: Any) -> None:
    payer, billing_only = make_org(sim), make_org(sim, feature_set="CONSOLIDATED_BILLING")
    for client, target in ((payer.client, billing_only.account_id), (billing_only.client, payer.account_id)):
        with pytest.raises(ClientError) as excinfo:
            client.invite_organization_to_transfer_responsibility(
                Type="BILLING",
                Target={"Id": target, "Type": "ACCOUNT"},
                StartTimestamp=next_month_start(sim.now()),
                SourceName="x",
            )
        assert error_of(excinfo) == ("ConstraintViolationException", "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE")


def test_quotas_aws_defaults_and_control(sim: Any) -> None:
    sim.reset("empty", quotas="aws")
    payer, source, other = make_org(sim), make_org(sim), make_org(sim)
    with pytest.raises(ClientError) as excinfo:
        invite(payer, source)
    assert error_of(excinfo) == ("ConstraintViolationException", "RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION")
    sim.set_quotas(payer.account_id, inbound=1)
    first = invite(payer, source)
    with pytest.raises(ClientError) as excinfo:
        invite(payer, other)
    assert error_of(excinfo) == ("ConstraintViolationException", "RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION")
    payer.client.cancel_handshake(HandshakeId=first["Id"])  # a canceled invitation frees the quota
    invite(payer, other)


def test_outbound_quota_and_chain_length(sim: Any) -> None:
    top, middle, bottom, rival = (make_org(sim) for _ in range(4))
    accepted = invite(top, middle)
    middle.client.accept_handshake(HandshakeId=accepted["Id"])
    with pytest.raises(ClientError) as excinfo:
        invite(rival, middle)
    assert error_of(excinfo) == ("ConstraintViolationException", "RESPONSIBILITY_TRANSFER_MAX_OUTBOUND_QUOTA_VIOLATION")
    with pytest.raises(ClientError) as excinfo:
        invite(middle, bottom)  # middle is paid for already: a chain of two
    assert error_of(excinfo) == ("ConstraintViolationException", "RESPONSIBILITY_TRANSFER_MAX_LEVEL_VIOLATION")
    sim.set_quotas(middle.account_id, chain=2)
    handshake = invite(middle, bottom)
    bottom.client.accept_handshake(HandshakeId=handshake["Id"])
    assert (
        bottom.client.list_outbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"][0]["Status"]
        == "ACCEPTED"
    )


def test_accept_re_checks_quotas(sim: Any) -> None:
    source, first_payer, second_payer = make_org(sim), make_org(sim), make_org(sim)
    one, two = invite(first_payer, source), invite(second_payer, source)
    source.client.accept_handshake(HandshakeId=one["Id"])
    with pytest.raises(ClientError) as excinfo:
        source.client.accept_handshake(HandshakeId=two["Id"])
    assert error_of(excinfo) == ("ConstraintViolationException", "RESPONSIBILITY_TRANSFER_MAX_OUTBOUND_QUOTA_VIOLATION")


def test_decline_cancel_and_who_may(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    handshake = invite(payer, source)
    with pytest.raises(ClientError) as excinfo:
        source.client.cancel_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        payer.client.decline_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert call(source.client, "decline_handshake", HandshakeId=handshake["Id"])["Handshake"]["State"] == "DECLINED"
    assert (
        payer.client.describe_responsibility_transfer(Id=transfer_id(handshake))["ResponsibilityTransfer"]["Status"]
        == "DECLINED"
    )
    with pytest.raises(ClientError) as excinfo:
        source.client.decline_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "HandshakeAlreadyInStateException"
    with pytest.raises(ClientError) as excinfo:
        source.client.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "InvalidHandshakeTransitionException"
    second = invite(payer, source)
    assert call(payer.client, "cancel_handshake", HandshakeId=second["Id"])["Handshake"]["State"] == "CANCELED"
    assert (
        payer.client.describe_responsibility_transfer(Id=transfer_id(second))["ResponsibilityTransfer"]["Status"]
        == "CANCELED"
    )
    with pytest.raises(ClientError) as excinfo:
        payer.client.cancel_handshake(HandshakeId=second["Id"])
    assert error_of(excinfo)[0] == "HandshakeAlreadyInStateException"


def test_expiry_and_thirty_day_retention(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    handshake = invite(payer, source)
    rt = transfer_id(handshake)
    expires = handshake["ExpirationTimestamp"].timestamp()
    sim.advance(expires - sim.now() + 1)
    assert source.client.describe_handshake(HandshakeId=handshake["Id"])["Handshake"]["State"] == "EXPIRED"
    assert payer.client.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["Status"] == "EXPIRED"
    with pytest.raises(ClientError) as excinfo:
        source.client.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "InvalidHandshakeTransitionException"
    sim.advance(29 * DAY)
    assert len(payer.client.list_handshakes_for_organization()["Handshakes"]) == 1
    sim.advance(2 * DAY)
    assert payer.client.list_handshakes_for_organization()["Handshakes"] == []
    with pytest.raises(ClientError) as excinfo:
        source.client.describe_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "HandshakeNotFoundException"
    assert payer.client.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["Status"] == "EXPIRED"


def test_not_found_and_strangers(sim: Any, pair: tuple[Org, Org]) -> None:
    payer, source = pair
    stranger = make_org(sim)
    handshake = invite(payer, source)
    rt = transfer_id(handshake)
    for method, params in [
        ("describe_responsibility_transfer", {"Id": rt}),
        ("update_responsibility_transfer", {"Id": rt, "Name": "mine now"}),
        ("terminate_responsibility_transfer", {"Id": rt}),
        ("list_inbound_responsibility_transfers", {"Type": "BILLING", "Id": rt}),
        ("describe_responsibility_transfer", {"Id": "rt-000000000000"}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            getattr(stranger.client, method)(**params)
        assert error_of(excinfo)[0] == "ResponsibilityTransferNotFoundException", method
    with pytest.raises(ClientError) as excinfo:
        stranger.client.describe_handshake(HandshakeId=handshake["Id"])
    assert error_of(excinfo)[0] == "HandshakeNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        source.client.list_inbound_responsibility_transfers(Type="BILLING", Id=rt)  # it is outbound for the source
    assert error_of(excinfo)[0] == "ResponsibilityTransferNotFoundException"
