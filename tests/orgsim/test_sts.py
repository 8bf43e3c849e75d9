"""STS as orgsim serves it, through real boto3 (STS's query protocol, XML answers): AssumeRole
checks the role's trust and external id, GetCallerIdentity, temporary credentials that act as the
role's account in Organizations calls and expire on orgsim's clock."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orgsim.scenarios import PORTAL_EXTERNAL_ID, PORTAL_ROLE
from orgsim.testing import Sim
from tests.orgsim.conftest import Org, error_of, new_account_id


def role_of(org: Org, name: str = "PortalReader") -> str:
    return f"arn:aws:iam::{org.account_id}:role/{name}"


def assume(sim: Sim, role_arn: str, caller: str = "123456789012", **extra: Any) -> dict[str, Any]:
    answer = sim.sts_client(caller).assume_role(RoleArn=role_arn, RoleSessionName="orgportal", **extra)
    assert answer["ResponseMetadata"]["RequestId"]
    return dict(answer)


def org_client(sim: Sim, credentials: dict[str, Any]) -> Any:
    return sim.client(
        credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_assume_role_with_the_right_external_id_acts_as_the_roles_account(sim: Sim, org: Org) -> None:
    sim.trust_role(role_of(org), external_id="ext-1234")
    answer = assume(sim, role_of(org), ExternalId="ext-1234", DurationSeconds=900)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["SessionToken"]
    assert isinstance(credentials["Expiration"], datetime.datetime)
    assert abs(credentials["Expiration"].timestamp() - (sim.now() + 900)) < 5
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{org.account_id}:assumed-role/PortalReader/orgportal"
    organization = org_client(sim, credentials).describe_organization()["Organization"]
    assert organization["Id"] == org.id
    identity = sim.sts_client(
        credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (org.account_id, answer["AssumedRoleUser"]["Arn"])
    assert identity["UserId"] == answer["AssumedRoleUser"]["AssumedRoleId"]


def test_wrong_or_missing_external_id_and_untrusted_roles_are_access_denied(sim: Sim, org: Org) -> None:
    sim.trust_role(role_of(org), external_id="ext-1234")
    for role, extra in (
        (role_of(org), {"ExternalId": "ext-wrong"}),
        (role_of(org), {}),
        (role_of(org, "Unknown"), {"ExternalId": "ext-1234"}),
    ):
        with pytest.raises(ClientError) as excinfo:
            assume(sim, role, **extra)
        assert error_of(excinfo)[0] == "AccessDenied"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "not authorized to perform: sts:AssumeRole" in excinfo.value.response["Error"]["Message"]


def test_credentials_expire_on_orgsims_clock(sim: Sim, org: Org) -> None:
    sim.trust_role(role_of(org))
    credentials = assume(sim, role_of(org), DurationSeconds=900)["Credentials"]
    client = org_client(sim, credentials)
    client.list_roots()
    sim.advance(901)
    with pytest.raises(ClientError) as excinfo:
        client.list_roots()
    assert error_of(excinfo)[0] == "ExpiredTokenException"
    # A fresh AssumeRole gives working credentials again.
    org_client(sim, assume(sim, role_of(org))["Credentials"]).list_roots()


def test_a_session_key_without_its_token_is_refused(sim: Sim, org: Org) -> None:
    sim.trust_role(role_of(org))
    credentials = assume(sim, role_of(org))["Credentials"]
    client = sim.client(credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"])
    with pytest.raises(ClientError) as excinfo:
        client.list_roots()
    assert error_of(excinfo)[0] == "UnrecognizedClientException"


def test_sts_input_is_validated_from_the_model(sim: Sim, org: Org) -> None:
    sim.trust_role(role_of(org))
    client = sim.sts_client("123456789012", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as excinfo:
        # Below the model's minimum of 900 seconds: the server refuses it as STS does.
        client.assume_role(RoleArn=role_of(org), RoleSessionName="orgportal", DurationSeconds=60)
    assert error_of(excinfo)[0] == "ValidationError"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_caller_identity_of_a_plain_key(sim: Sim) -> None:
    account = new_account_id()
    identity = sim.sts_client(account).get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (
        account,
        f"arn:aws:iam::{account}:root",
        account,
    )


def test_demo_management_accounts_have_a_role_the_portal_can_assume(demo: Sim) -> None:
    management = "210987654321"
    role = f"arn:aws:iam::{management}:role/{PORTAL_ROLE}"
    credentials = assume(demo, role, ExternalId=PORTAL_EXTERNAL_ID)["Credentials"]
    organization = org_client(demo, credentials).describe_organization()["Organization"]
    assert organization["MasterAccountId"] == management
