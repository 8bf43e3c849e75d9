"""The connection form says what it takes: each mode's fields only, typed values a mode ignores
refused (never dropped), no "keep the stored one" on a new connection, and "Test connection"
tries the form's credentials against AWS (orgsim) before anything is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from orgportal.models import AwsConnection, CredentialMode
from tests.foundation.test_connection_pages import SECRET, keys_post

pytestmark = pytest.mark.django_db


def test_typed_keys_with_the_default_chain_mode_are_refused_not_dropped(
    personas: Any, client: Client, settings: Any
) -> None:
    settings.ALLOW_AMBIENT_CREDENTIALS = True  # the superuser is offered the default chain
    personas.login(client, "superuser")
    response = client.post(reverse("connection_add"), keys_post(**{"read-mode": CredentialMode.DEFAULT_CHAIN}))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Access key id is filled in but" in html and "Secret access key is filled in but" in html
    assert AwsConnection.objects.count() == 1  # only the personas' own


def test_a_role_arn_typed_with_the_keys_mode_is_refused(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    data = keys_post(**{"read-role_arn": "arn:aws:iam::333333333333:role/Billing"})
    response = client.post(reverse("connection_add"), data)
    assert response.status_code == 400 and "Role ARN is filled in but" in response.content.decode()


def test_a_stored_value_shown_back_is_not_taken_as_typed(personas: Any, client: Client) -> None:
    personas.login(client, "admin")
    connection = personas.connection
    stored_key = connection.read_credentials.access_key_id
    data = keys_post(
        **{
            "endpoint_url": connection.endpoint_url,
            "read-mode": CredentialMode.ASSUME_ROLE,
            "read-role_arn": "arn:aws:iam::333333333333:role/Billing",
            "read-access_key_id": stored_key,
            "read-secret_access_key": "",
        }
    )
    response = client.post(reverse("connection_edit", args=[connection.pk]), data)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.read_credentials.mode == CredentialMode.ASSUME_ROLE


def test_a_new_connection_shows_each_modes_fields_apart_and_never_says_keep_the_stored_one(
    personas: Any, client: Client
) -> None:
    personas.login(client, "admin")
    html = client.get(reverse("connection_add")).content.decode()
    assert "Leave blank to keep" not in html
    assert 'class="for-mode for-keys' in html and 'class="for-mode for-assume_role' in html
    assert "Test connection" in html and reverse("connection_try") in html
    html = client.get(reverse("connection_edit", args=[personas.connection.pk])).content.decode()
    assert "Leave blank to keep the stored one" in html


def test_test_connection_before_saving_calls_aws_and_saves_nothing(personas: Any, client: Client, sim_org: Any) -> None:
    personas.login(client, "admin")
    data = keys_post(**{"endpoint_url": sim_org.sim.endpoint, "read-access_key_id": sim_org.management_account_id})
    sim_org.sim.reset_calls()
    response = client.post(reverse("connection_try"), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "Read credentials: working" in html
    assert sim_org.organization_id in html and SECRET not in html
    assert sim_org.sim.calls()["by_operation"].get("DescribeOrganization") == 1
    assert AwsConnection.objects.count() == 1
    event = AuditEvent.objects.get(action="connection.tested")
    assert event.resource == "connection/unsaved" and event.outcome == "ok" and SECRET not in str(event.params)


def test_test_connection_with_a_refused_form_tests_nothing(personas: Any, client: Client, sim_org: Any) -> None:
    personas.login(client, "admin")
    data = keys_post(**{"endpoint_url": sim_org.sim.endpoint, "read-mode": CredentialMode.ASSUME_ROLE})
    sim_org.sim.reset_calls()
    response = client.post(reverse("connection_try"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Not tested" in response.content.decode()
    assert sim_org.sim.calls()["total"] == 0


@pytest.mark.parametrize("name", ["viewer", "operator", "outsider"])
def test_only_who_may_add_a_connection_may_test_one_unsaved(personas: Any, client: Client, name: str) -> None:
    personas.login(client, name)
    assert client.post(reverse("connection_try"), keys_post()).status_code == 403
