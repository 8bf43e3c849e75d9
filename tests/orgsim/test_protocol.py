"""The wire: JSON 1.1 over POST /, SigV4 identity, model validation, error shapes, the control API's isolation."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orgsim.model import operation_names
from orgsim.registry import load_handlers
from tests.orgsim.conftest import Org, error_of

AUTH = "AWS4-HMAC-SHA256 Credential={key}/20250101/us-east-1/organizations/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"


def raw(
    sim: Any,
    target: str | None,
    body: Any = None,
    *,
    key: str | None = "111111111111",
    auth: str | None = None,
    method: str = "POST",
    path: str = "/",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    url = urlparse(sim.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    if auth is not None:
        headers["Authorization"] = auth
    elif key is not None:
        headers["Authorization"] = AUTH.format(key=key)
    payload = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    conn.request(method, path, payload, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, (json.loads(data) if data else {}), {k.lower(): v for k, v in response.getheaders()}


T = "AWSOrganizationsV20161128."


def test_success_has_request_id_and_json_11(sim: Any) -> None:
    status, body, headers = raw(sim, T + "CreateOrganization", {"FeatureSet": "ALL"})
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-requestid"]
    assert body["Organization"]["MasterAccountId"] == "111111111111"
    assert isinstance(raw(sim, T + "DescribeOrganization")[1]["Organization"]["Id"], str)


@pytest.mark.parametrize(
    ("auth", "key", "code"),
    [
        (None, None, "MissingAuthenticationTokenException"),
        ("Basic abc", None, "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=x", None, "IncompleteSignatureException"),
        (None, "AKIAEXAMPLEKEY", "UnrecognizedClientException"),
    ],
)
def test_missing_or_malformed_authorization(sim: Any, auth: str | None, key: str | None, code: str) -> None:
    status, body, headers = raw(sim, T + "DescribeOrganization", auth=auth, key=key)
    assert status == 403
    assert body["__type"] == code
    assert headers["x-amzn-requestid"]


def test_unknown_target(sim: Any) -> None:
    for target in (T + "MakeCoffee", "Other.DescribeOrganization", None, T + "_orgsim/reset"):
        status, body, headers = raw(sim, target)
        assert (status, body["__type"]) == (400, "UnknownOperationException")
        assert headers["x-amzn-requestid"]


def test_control_api_is_reachable_by_path_only(sim: Any) -> None:
    status, body, _ = raw(sim, None, method="GET", path="/_orgsim/health")
    assert status == 200 and body == {"ok": True}
    status, body, _ = raw(sim, None, method="GET", path="/_orgsim/nope")
    assert status == 404


def test_unseen_account_exists_standalone(sim: Any) -> None:
    status, body, _ = raw(sim, T + "DescribeOrganization", key="999999999991")
    assert (status, body["__type"]) == (400, "AWSOrganizationsNotInUseException")
    status, body, _ = raw(sim, T + "ListHandshakesForAccount", key="999999999991")
    assert (status, body) == (200, {"Handshakes": []})


@pytest.mark.parametrize(
    ("operation", "body", "reason"),
    [
        ("AcceptHandshake", {}, "INPUT_REQUIRED"),
        ("AcceptHandshake", {"HandshakeId": "x-123"}, "INVALID_PATTERN"),
        ("AcceptHandshake", {"HandshakeId": "h-" + "a" * 40}, "MAX_LENGTH_EXCEEDED"),
        ("ListHandshakesForAccount", {"MaxResults": 0}, "MIN_VALUE_EXCEEDED"),
        ("ListHandshakesForAccount", {"MaxResults": 21}, "MAX_VALUE_EXCEEDED"),
        ("ListHandshakesForAccount", {"Filter": {"ActionType": "DANCE"}}, "INVALID_ENUM"),
        ("ListInboundResponsibilityTransfers", {"Type": "SUPPORT"}, "INVALID_ENUM"),
        (
            "InviteOrganizationToTransferResponsibility",
            {"Type": "BILLING", "Target": {"Id": "222222222222", "Type": "ACCOUNT"}, "StartTimestamp": 1},
            "INPUT_REQUIRED",
        ),
        (
            "InviteOrganizationToTransferResponsibility",
            {
                "Type": "BILLING",
                "Target": {"Id": "222222222222", "Type": "ACCOUNT"},
                "StartTimestamp": 1,
                "SourceName": "",
            },
            "MIN_LENGTH_EXCEEDED",
        ),
        (
            "InviteOrganizationToTransferResponsibility",
            {
                "Type": "BILLING",
                "Target": {"Id": "222222222222", "Type": "ACCOUNT"},
                "StartTimestamp": 1,
                "SourceName": "x" * 129,
            },
            "MAX_LENGTH_EXCEEDED",
        ),
        (
            "InviteOrganizationToTransferResponsibility",
            {
                "Type": "BILLING",
                "Target": {"Id": "222222222222", "Type": "ACCOUNT"},
                "StartTimestamp": 1,
                "SourceName": "caf\u00e9",
            },
            "INVALID_PATTERN",
        ),
        (
            "InviteOrganizationToTransferResponsibility",
            {"Type": "BILLING", "Target": {"Id": "222222222222"}, "StartTimestamp": 1, "SourceName": "x"},
            "INPUT_REQUIRED",
        ),
        ("TagResource", {"ResourceId": "111111111111", "Tags": [{"Key": "a"}]}, "INPUT_REQUIRED"),
        (
            "TagResource",
            {"ResourceId": "111111111111", "Tags": [{"Key": "bad\u0000key", "Value": "v"}]},
            "INVALID_PATTERN",
        ),
        ("TerminateResponsibilityTransfer", {"Id": "rt-short"}, "INVALID_PATTERN"),
    ],
)
def test_raw_validation_follows_the_model(sim: Any, operation: str, body: dict[str, Any], reason: str) -> None:
    status, answer, headers = raw(sim, T + operation, body)
    assert status == 400
    assert answer["__type"] == "InvalidInputException"
    assert answer["Reason"] == reason
    assert answer["Message"]
    assert headers["x-amzn-errortype"] == "InvalidInputException"


def test_wrong_json_types_are_serialization_errors(sim: Any) -> None:
    for body in ({"MaxResults": "5"}, {"Filter": "INVITE"}, b"{not json", [1, 2]):
        status, answer, _ = raw(sim, T + "ListHandshakesForAccount", body)
        assert (status, answer["__type"]) == (400, "SerializationException")


def test_every_operation_of_the_model_has_a_handler() -> None:
    handlers = load_handlers()
    assert [name for name in operation_names() if name not in handlers] == []


def test_operation_without_handler_names_orgsim_and_the_operation(sim: Any, monkeypatch: Any) -> None:
    # A newer botocore may bring an operation orgsim has no handler for yet: take one away to see
    # that answer (the in-process server shares this registry).
    monkeypatch.delitem(load_handlers(), "ListRoots")
    status, answer, _ = raw(sim, T + "ListRoots", {})
    assert status == 501
    assert answer["__type"] == "OrgsimNotImplementedException"
    assert "orgsim" in answer["Message"] and "ListRoots" in answer["Message"]


def test_boto3_without_client_validation_gets_the_servers_reasons(sim: Any, org: Org) -> None:
    client = sim.client(org.account_id, config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    cases = [
        (lambda: client.accept_handshake(HandshakeId="nope"), "INVALID_PATTERN"),
        (lambda: client.accept_handshake(), "INPUT_REQUIRED"),
        (lambda: client.list_accounts(MaxResults=50), "MAX_VALUE_EXCEEDED"),
        (lambda: client.list_children(ParentId=org.root_id, ChildType="GROUP"), "INVALID_ENUM"),
        (lambda: client.list_accounts(NextToken="forged"), "INVALID_NEXT_TOKEN"),
        (lambda: client.update_responsibility_transfer(Id="rt-0123456789", Name=""), "MIN_LENGTH_EXCEEDED"),
    ]
    for run, reason in cases:
        with pytest.raises(ClientError) as excinfo:
            run()
        assert error_of(excinfo) == ("InvalidInputException", reason)
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_service_exception_is_500_and_throttling_400(sim: Any, org: Org) -> None:
    sim.set_faults("ListAccounts", error_rate=1.0)
    status, answer, _ = raw(sim, T + "ListAccounts", key=org.account_id)
    assert (status, answer["__type"]) == (500, "ServiceException")
    sim.set_faults("ListAccounts", error_rate=0.0, throttle=1.0)
    status, answer, _ = raw(sim, T + "ListAccounts", key=org.account_id)
    assert (status, answer["__type"]) == (400, "TooManyRequestsException")
