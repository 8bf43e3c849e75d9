"""Connection pages: who may see and change them, form validation, secrets never shown again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from orgportal.models import AwsConnection, CredentialMode, Grant, Role

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def keys_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Finance payer",
        "endpoint_url": "http://127.0.0.1:4566",
        "sync_enabled": "on",
        "read-mode": CredentialMode.KEYS,
        "read-access_key_id": "333333333333",
        "read-secret_access_key": SECRET,
        "action-mode": CredentialMode.KEYS,
    }
    data.update(overrides)
    return data


def test_list_requires_login(client: Client) -> None:
    response = client.get(reverse("connection_list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_viewer_sees_only_their_connections(personas: Any, client: Client, make_connection: Any) -> None:
    make_connection(name="Someone else's payer")
    personas.login(client, "viewer")
    html = client.get(reverse("connection_list")).content.decode()
    assert "Acme payer" in html
    assert "Someone else&#x27;s payer" not in html and "Someone else's payer" not in html
    assert "Add a connection" not in html


def test_outsider_gets_404_on_a_connection_they_hold_no_grant_on(personas: Any, client: Client) -> None:
    personas.login(client, "outsider")
    assert client.get(reverse("connection_detail", args=[personas.connection.pk])).status_code == 404


@pytest.mark.parametrize("name", ["viewer", "approver", "operator", "auditor"])
def test_only_admins_may_edit_or_test(personas: Any, client: Client, name: str) -> None:
    personas.login(client, name)
    pk = personas.connection.pk
    assert client.get(reverse("connection_edit", args=[pk])).status_code == 403
    assert client.post(reverse("connection_edit", args=[pk]), keys_post()).status_code == 403
    assert client.post(reverse("connection_test", args=[pk])).status_code == 403
    assert client.post(reverse("connection_add"), keys_post()).status_code == 403
    assert AwsConnection.objects.count() == 1


def test_viewer_may_not_queue_a_sync(personas: Any, client: Client) -> None:
    personas.login(client, "viewer")
    assert client.post(reverse("connection_sync", args=[personas.connection.pk])).status_code == 403


def test_superuser_adds_a_connection_and_the_secret_is_never_shown_again(personas: Any, client: Client) -> None:
    personas.login(client, "superuser")
    response = client.post(reverse("connection_add"), keys_post())
    connection = AwsConnection.objects.get(name="Finance payer")
    assert response.status_code == 302
    assert response["Location"] == reverse("connection_detail", args=[connection.pk])
    credentials = connection.read_credentials
    assert credentials.mode == CredentialMode.KEYS
    assert credentials.secret_access_key == SECRET
    assert SECRET not in credentials.secret_access_key_encrypted
    for url in (reverse("connection_detail", args=[connection.pk]), reverse("connection_edit", args=[connection.pk])):
        html = client.get(url).content.decode()
        assert SECRET not in html
        assert credentials.secret_access_key_encrypted not in html
    event = AuditEvent.objects.get(action="connection.created")
    assert event.actor_label == "root"
    assert SECRET not in str(event.params)


def test_admin_who_adds_a_connection_administers_it(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    client.post(reverse("connection_add"), keys_post(name="Second payer"))
    connection = AwsConnection.objects.get(name="Second payer")
    assert Grant.objects.filter(user=personas.admin, connection=connection, role=Role.ADMIN).exists()


def test_editing_with_a_blank_secret_keeps_the_stored_one(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    connection = personas.connection
    before = connection.read_credentials.secret_access_key
    data = keys_post(
        name="Renamed payer",
        endpoint_url=connection.endpoint_url,
        **{"read-access_key_id": connection.read_credentials.access_key_id},
    )
    data["read-secret_access_key"] = ""
    response = client.post(reverse("connection_edit", args=[connection.pk]), data)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed payer"
    assert connection.read_credentials.secret_access_key == before
    event = AuditEvent.objects.get(action="connection.updated")
    assert event.params["name"] == "Renamed payer"


def test_form_explains_what_each_credential_mode_needs(personas: Any, client: Client) -> None:
    personas.login(client, "superuser")
    cases = [
        ({"read-mode": CredentialMode.KEYS, "read-secret_access_key": ""}, "Enter the secret access key"),
        ({"read-mode": CredentialMode.KEYS, "read-access_key_id": "not a key"}, "capital letters and digits"),
        ({"read-mode": CredentialMode.PROFILE}, "needs its name"),
        ({"read-mode": CredentialMode.ASSUME_ROLE}, "needs the role"),
        (
            {"read-mode": CredentialMode.ASSUME_ROLE, "read-role_arn": "arn:aws:iam::123456789012:user/bob"},
            "looks like",
        ),
        (
            {"read-mode": CredentialMode.ASSUME_ROLE, "read-role_arn": "arn:aws:iam::123456789012:role/Réader"},
            "looks like",
        ),
        ({"read-mode": CredentialMode.ASSUME_ROLE, "read-role_arn": "arn:aws:iam::1:role"}, "20 to 2048"),
    ]
    for overrides, message in cases:
        response = client.post(reverse("connection_add"), keys_post(**overrides))
        assert response.status_code == 400, overrides
        assert message in response.content.decode(), overrides
    assert not AwsConnection.objects.filter(name="Finance payer").exists()


def test_separate_action_credentials_are_saved_and_removed(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    connection = personas.connection
    data = keys_post(
        endpoint_url=connection.endpoint_url,
        **{
            "read-access_key_id": connection.read_credentials.access_key_id,
            "read-secret_access_key": "",
            "use_action_credentials": "on",
            "action-mode": CredentialMode.ASSUME_ROLE,
            "action-role_arn": "arn:aws:iam::123456789012:role/PortalActions",
        },
    )
    assert client.post(reverse("connection_edit", args=[connection.pk]), data).status_code == 302
    connection.refresh_from_db()
    assert connection.action_credentials is not None
    assert connection.credentials_for("action").role_arn == "arn:aws:iam::123456789012:role/PortalActions"
    # The role is assumed with the connection's generated external id, shown for its trust policy.
    assert connection.external_id in client.get(reverse("connection_edit", args=[connection.pk])).content.decode()
    data.pop("use_action_credentials")
    assert client.post(reverse("connection_edit", args=[connection.pk]), data).status_code == 302
    connection.refresh_from_db()
    assert connection.action_credentials is None
