"""How the gateway gets credentials: access keys, a named profile, the default chain (the
server's own credentials: only where the deployment allows them), an assumed role with the
connection's generated external id; every session shares one botocore data loader. Each through
real botocore to orgsim (the role through orgsim's STS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orgportal import aws
from orgportal.models import AwsConnection, AwsCredentials, CredentialMode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_clients() -> Any:
    aws.forget_clients()
    yield
    aws.forget_clients()


@pytest.fixture
def ambient_allowed(settings: Any) -> None:
    settings.ALLOW_AMBIENT_CREDENTIALS = True


def _connection(sim_org: Any, credentials: AwsCredentials) -> AwsConnection:
    return AwsConnection.objects.create(
        name=f"{credentials.mode} connection", endpoint_url=sim_org.sim.endpoint, read_credentials=credentials
    )


def _organization_id(connection: AwsConnection) -> str:
    return aws.call(connection, "DescribeOrganization").data["Organization"]["Id"]


@pytest.mark.usefixtures("ambient_allowed")
def test_a_named_profile_is_read_from_the_shared_files(sim_org: Any, tmp_path: Path, monkeypatch: Any) -> None:
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text(
        f"[payer]\naws_access_key_id = {sim_org.management_account_id}\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    connection = _connection(sim_org, AwsCredentials.objects.create(mode=CredentialMode.PROFILE, profile_name="payer"))

    assert _organization_id(connection) == sim_org.organization_id


@pytest.mark.usefixtures("ambient_allowed")
def test_a_missing_profile_is_an_aws_error_in_plain_words(sim_org: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    connection = _connection(sim_org, AwsCredentials.objects.create(mode=CredentialMode.PROFILE, profile_name="nope"))

    with pytest.raises(aws.AwsError) as failure:
        _organization_id(connection)
    assert failure.value.code == "ProfileNotFound"
    assert failure.value.user_message == "The named AWS profile does not exist on the portal's servers."


@pytest.mark.usefixtures("ambient_allowed")
def test_the_default_chain_takes_the_environment(sim_org: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sim_org.management_account_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    connection = _connection(sim_org, AwsCredentials.objects.create(mode=CredentialMode.DEFAULT_CHAIN))

    assert _organization_id(connection) == sim_org.organization_id


def test_clients_of_many_connections_share_one_data_loader(sim_org: Any, make_connection: Any) -> None:
    first = make_connection(account_id=sim_org.management_account_id, endpoint_url=sim_org.sim.endpoint)
    second = make_connection(account_id=sim_org.management_account_id, endpoint_url=sim_org.sim.endpoint)
    a, b = aws.client_for(first), aws.client_for(second)

    assert a is not b  # one client per connection
    assert a.meta.service_model.service_name == "organizations"
    # The second client's model came from the shared loader's cache, parsed once.
    assert a.meta.service_model.operation_names == b.meta.service_model.operation_names
    assert aws._session().get_component("data_loader") is aws._loader
    assert aws.call(second, "DescribeOrganization").data["Organization"]["Id"] == sim_org.organization_id


@pytest.mark.parametrize("mode", [CredentialMode.DEFAULT_CHAIN, CredentialMode.PROFILE])
def test_stored_ambient_credentials_are_refused_at_use_when_the_deployment_does_not_allow_them(
    sim_org: Any, monkeypatch: Any, settings: Any, mode: str
) -> None:
    settings.ALLOW_AMBIENT_CREDENTIALS = False
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sim_org.management_account_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    connection = _connection(sim_org, AwsCredentials.objects.create(mode=mode, profile_name="default"))
    sim_org.sim.reset_calls()

    with pytest.raises(aws.AwsError) as failure:
        _organization_id(connection)
    assert failure.value.code == "AmbientCredentialsDisabled"
    assert "does not allow" in failure.value.user_message
    assert sim_org.sim.calls()["total"] == 0


@pytest.fixture
def portal_identity(monkeypatch: Any) -> None:
    """The portal's own identity, which asks STS for the customer's role (any account at orgsim)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "999999999999")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "portal-own-secret")


@pytest.mark.usefixtures("portal_identity")
def test_an_assumed_role_is_asked_for_with_the_connections_generated_external_id(sim_org: Any) -> None:
    role_arn = f"arn:aws:iam::{sim_org.management_account_id}:role/PortalReader"
    connection = _connection(sim_org, AwsCredentials.objects.create(mode=CredentialMode.ASSUME_ROLE, role_arn=role_arn))
    sim_org.sim.trust_role(role_arn, connection.external_id)
    sim_org.sim.reset_calls()

    assert _organization_id(connection) == sim_org.organization_id
    calls = {(c["operation"], c["account"]): c["count"] for c in sim_org.sim.calls()["calls"]}
    # The portal's identity asked STS once; the role's account read the organization.
    assert calls == {("sts:AssumeRole", "999999999999"): 1, ("DescribeOrganization", sim_org.management_account_id): 1}
