"""Tenants are walls: the server's own AWS credentials, role external ids, endpoints and users.

An admin of one connection must gain no power over another tenant: not through the portal
server's ambient credentials (default chain, named profile), not through an external id they
choose (the confused deputy), not by pointing a stored secret at a host of their choosing, and
not by reading who else uses the portal.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.events import REDACTED
from audit.models import AuditEvent
from orgportal.forms import _sts_constraints
from orgportal.models import AwsConnection, CredentialMode, Grant, Role

pytestmark = pytest.mark.django_db

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Tenant B payer",
        "endpoint_url": "",
        "sync_enabled": "on",
        "read-mode": CredentialMode.KEYS,
        "read-access_key_id": AWS_KEY_ID,
        "read-secret_access_key": AWS_SECRET,
        "action-mode": CredentialMode.KEYS,
    }
    if overrides.get("read-mode", CredentialMode.KEYS) != CredentialMode.KEYS:
        # A form filled for another mode: keys typed with it would be refused (never dropped).
        del data["read-access_key_id"], data["read-secret_access_key"]
    data.update(overrides)
    return data


# --- the server's own credentials -------------------------------------------------------------


@pytest.mark.parametrize("allowed", [False, True])
@pytest.mark.parametrize("mode", [CredentialMode.DEFAULT_CHAIN, CredentialMode.PROFILE])
def test_admin_of_one_connection_cannot_add_a_connection_on_the_servers_own_credentials(
    personas: Any, client: Client, settings: Any, allowed: bool, mode: str
) -> None:
    settings.ALLOW_AMBIENT_CREDENTIALS = allowed
    personas.login(client, "admin")
    response = client.post(reverse("connection_add"), post(**{"read-mode": mode, "read-profile_name": "default"}))
    assert response.status_code == 400
    assert "are for superusers" in response.content.decode()
    assert not AwsConnection.objects.filter(name="Tenant B payer").exists()
    assert not AuditEvent.objects.filter(action="connection.created").exists()


def test_admin_cannot_switch_their_connection_to_the_servers_own_credentials(
    personas: Any, client: Client, settings: Any
) -> None:
    settings.ALLOW_AMBIENT_CREDENTIALS = True
    personas.login(client, "admin")
    connection = personas.connection
    data = post(
        name=connection.name, endpoint_url=connection.endpoint_url, **{"read-mode": CredentialMode.DEFAULT_CHAIN}
    )
    assert client.post(reverse("connection_edit", args=[connection.pk]), data).status_code == 400
    connection.refresh_from_db()
    assert connection.read_credentials.mode == CredentialMode.KEYS


def test_the_form_offers_ambient_modes_only_to_superusers_where_the_deployment_allows(
    personas: Any, client: Client, settings: Any
) -> None:
    def offered(name: str) -> set[str]:
        personas.login(client, name)
        html = client.get(reverse("connection_add")).content.decode()
        select = re.search(r'<select name="read-mode".*?</select>', html, re.S)
        assert select is not None
        return set(re.findall(r'<option value="([^"]+)"', select.group(0)))

    settings.ALLOW_AMBIENT_CREDENTIALS = True
    assert offered("admin") == {CredentialMode.ASSUME_ROLE, CredentialMode.KEYS}
    assert offered("superuser") == set(CredentialMode.values)
    settings.ALLOW_AMBIENT_CREDENTIALS = False
    assert offered("superuser") == {CredentialMode.ASSUME_ROLE, CredentialMode.KEYS}


def test_a_superuser_uses_the_servers_credentials_only_where_the_deployment_allows(
    personas: Any, client: Client, settings: Any
) -> None:
    personas.login(client, "superuser")
    data = post(**{"read-mode": CredentialMode.DEFAULT_CHAIN})
    settings.ALLOW_AMBIENT_CREDENTIALS = False
    assert client.post(reverse("connection_add"), data).status_code == 400
    assert not AwsConnection.objects.filter(name="Tenant B payer").exists()
    settings.ALLOW_AMBIENT_CREDENTIALS = True
    assert client.post(reverse("connection_add"), data).status_code == 302
    assert AwsConnection.objects.get(name="Tenant B payer").read_credentials.mode == CredentialMode.DEFAULT_CHAIN


def test_ambient_credentials_are_off_by_default() -> None:
    from django.conf import settings

    assert settings.ALLOW_AMBIENT_CREDENTIALS is False


def test_an_admin_still_adds_a_connection_with_keys_they_bring_and_administers_only_it(
    personas: Any, client: Client
) -> None:
    personas.login(client, "admin")
    assert client.post(reverse("connection_add"), post()).status_code == 302
    added = AwsConnection.objects.get(name="Tenant B payer")
    assert set(Grant.objects.filter(connection=added).values_list("user__username", "role")) == {
        (personas.admin.get_username(), Role.ADMIN)
    }


# --- role mode: the portal's external id ------------------------------------------------------


def test_role_mode_gets_a_generated_external_id_the_user_cannot_choose(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    data = post(
        **{
            "read-mode": CredentialMode.ASSUME_ROLE,
            "read-role_arn": "arn:aws:iam::123456789012:role/PortalReader",
            "read-external_id": "the-victims-external-id",
        }
    )
    assert client.post(reverse("connection_add"), data).status_code == 302
    connection = AwsConnection.objects.get(name="Tenant B payer")
    meta = _sts_constraints("ExternalId")
    assert connection.external_id != "the-victims-external-id"
    assert meta["min"] <= len(connection.external_id) <= meta["max"]
    assert re.fullmatch(meta["pattern"], connection.external_id, re.ASCII)
    assert "the-victims-external-id" not in str(AuditEvent.objects.get(action="connection.created").params)
    # The customer needs it for the role's trust policy: the connection page shows it.
    assert connection.external_id in client.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    # Editing cannot set it either.
    data["name"] = connection.name
    assert client.post(reverse("connection_edit", args=[connection.pk]), data).status_code == 302
    before = connection.external_id
    connection.refresh_from_db()
    assert connection.external_id == before


def test_every_connection_has_its_own_external_id(make_connection: Any) -> None:
    ids = {make_connection().external_id for _ in range(5)}
    assert len(ids) == 5


# --- the endpoint and the stored secret -------------------------------------------------------


def test_changing_the_endpoint_needs_the_secret_again(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    connection = personas.connection
    stored = connection.read_credentials.secret_access_key
    key_id = connection.read_credentials.access_key_id
    data = post(
        name=connection.name,
        endpoint_url="https://collector.example.net",
        **{"read-access_key_id": key_id, "read-secret_access_key": ""},
    )
    response = client.post(reverse("connection_edit", args=[connection.pk]), data)
    assert response.status_code == 400
    assert "enter the secret access key again" in response.content.decode()
    connection.refresh_from_db()
    assert connection.endpoint_url == "http://127.0.0.1:9"
    assert connection.read_credentials.secret_access_key == stored

    data["read-secret_access_key"] = "a-new-emulator-secret"
    assert client.post(reverse("connection_edit", args=[connection.pk]), data).status_code == 302
    connection.refresh_from_db()
    assert connection.endpoint_url == "https://collector.example.net"
    assert connection.read_credentials.secret_access_key == "a-new-emulator-secret"
    event = AuditEvent.objects.get(action="connection.updated")
    assert event.params["endpoint_url"] == "https://collector.example.net"
    assert event.params["read.secret_access_key"] == REDACTED  # named, never shown
    assert "read.dropped" not in event.params


def test_saving_a_new_endpoint_drops_a_secret_not_entered_again(personas: Any, rf: Any) -> None:
    """The service's own guard, for a caller that validates the forms one by one."""
    from orgportal.connections import connection_save
    from orgportal.forms import ConnectionForms

    connection = personas.connection
    data = post(
        name=connection.name,
        endpoint_url="https://collector.example.net",
        **{"read-access_key_id": connection.read_credentials.access_key_id, "read-secret_access_key": ""},
    )
    forms = ConnectionForms(data, connection=connection, allow_ambient=False)
    forms.read.endpoint_url = connection.endpoint_url  # as if the endpoint were not changing
    assert forms.form.is_valid() and forms.read.is_valid()
    connection_save(actor=personas.admin, request=None, forms=forms)
    connection.refresh_from_db()
    assert connection.endpoint_url == "https://collector.example.net"
    assert connection.read_credentials.secret_access_key_encrypted == ""
    params = AuditEvent.objects.get(action="connection.updated").params
    assert params["read.dropped"] == "secret_access_key (the endpoint changed)"


# --- secrets and key ids in their real shapes -------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "key_id", "secret", "message"),
    [
        ("http://127.0.0.1:4566", "333333333333", "x" * 10240, "1 to 128 printable ASCII"),
        ("http://127.0.0.1:4566", "333333333333", "sécret-ключ-秘密", "1 to 128 printable ASCII"),
        ("http://127.0.0.1:4566", "333333333333", "two words", "1 to 128 printable ASCII"),
        ("", AWS_KEY_ID, "orgsim-secret", "40 characters"),
        ("", AWS_KEY_ID, "ä" * 40, "40 characters"),
        ("", AWS_KEY_ID, AWS_SECRET + "A", "40 characters"),
        ("", "333333333333", AWS_SECRET, "AKIA followed by 16"),
        ("", "ASIAIOSFODNN7EXAMPLE", AWS_SECRET, "AKIA followed by 16"),
    ],
)
def test_a_secret_or_key_id_outside_its_real_shape_is_refused(
    personas: Any, client: Client, endpoint: str, key_id: str, secret: str, message: str
) -> None:
    personas.login(client, "admin")
    data = post(endpoint_url=endpoint, **{"read-access_key_id": key_id, "read-secret_access_key": secret})
    response = client.post(reverse("connection_add"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AwsConnection.objects.filter(name="Tenant B payer").exists()


@pytest.mark.parametrize(
    ("endpoint", "key_id", "secret"),
    [("", AWS_KEY_ID, AWS_SECRET), ("http://127.0.0.1:4566", "210987654321", "orgsim-secret")],
)
def test_real_aws_keys_and_an_emulators_keys_are_accepted(
    personas: Any, client: Client, endpoint: str, key_id: str, secret: str
) -> None:
    personas.login(client, "admin")
    data = post(endpoint_url=endpoint, **{"read-access_key_id": key_id, "read-secret_access_key": secret})
    assert client.post(reverse("connection_add"), data).status_code == 302
    assert AwsConnection.objects.get(name="Tenant B payer").read_credentials.secret_access_key == secret


def test_the_model_never_stores_an_unbounded_or_unicode_secret(make_connection: Any) -> None:
    credentials = make_connection().read_credentials
    for secret in ("x" * 10240, "sécret", ""):
        with pytest.raises(ValueError, match="printable ASCII"):
            credentials.secret_access_key = secret


# --- the Users page ---------------------------------------------------------------------------


def test_users_page_hides_users_of_other_tenants(
    personas: Any, client: Client, make_connection: Any, make_user: Any
) -> None:
    globex = make_connection(name="Globex payer")
    make_user("sam", roles=[Role.VIEWER], connection=globex)
    personas.login(client, "admin")
    html = client.get("/accounts/users/").content.decode()
    assert ">sam<" not in html
    assert ">mallory<" not in html  # no grant anywhere: shares nothing with the admin
    assert ">victor<" in html  # viewer on the admin's own connection
    response = client.post(
        "/accounts/users/grants/", {"user": "sam", "connection": personas.connection.pk, "role": Role.VIEWER}
    )
    assert response.status_code == 400
    assert not Grant.objects.filter(user__username="sam", connection=personas.connection).exists()


def test_superusers_see_every_user(personas: Any, client: Client, make_connection: Any, make_user: Any) -> None:
    make_user("sam", roles=[Role.VIEWER], connection=make_connection(name="Globex payer"))
    personas.login(client, "superuser")
    html = client.get("/accounts/users/").content.decode()
    assert ">sam<" in html and ">mallory<" in html
