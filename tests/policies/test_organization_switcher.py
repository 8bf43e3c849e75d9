"""Organization pages: a connection switcher, and the last connection used remembered for the
session, so the Organization tab opens where the user was rather than on the alphabetically
first connection."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection, Role
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def second(make_connection: Callable, personas: Personas, grant: Callable) -> AwsConnection:
    connection = make_connection(name="Woodgrove Bank")
    grant(personas.viewer, connection, Role.VIEWER)
    return connection


def test_the_organization_tab_opens_the_first_connection_then_the_last_one_used(
    client: Client, personas: Personas, second: AwsConnection
) -> None:
    personas.login(client, "viewer")
    first = personas.connection  # "Acme payer" comes first by name
    response = client.get(reverse("organization_home"))
    assert response.status_code == 302 and response["Location"] == reverse("organization", args=[first.pk])
    assert client.get(reverse("organization", args=[second.pk])).status_code == 200
    response = client.get(reverse("organization_home"))
    assert response["Location"] == reverse("organization", args=[second.pk])


def test_the_switcher_lists_the_users_connections_and_switches(
    client: Client, personas: Personas, second: AwsConnection, make_connection: Callable
) -> None:
    hidden = make_connection(name="Someone else's bank")
    personas.login(client, "viewer")
    html = client.get(reverse("organization", args=[personas.connection.pk])).content.decode()
    switcher = html[html.index('switcher" method') :]
    switcher = switcher[: switcher.index("</form>")]
    assert "Acme payer" in switcher and "Woodgrove Bank" in switcher and "Someone else" not in switcher
    response = client.get(reverse("organization_home"), {"connection": second.pk})
    assert response["Location"] == reverse("organization", args=[second.pk])
    assert client.get(reverse("organization_home"), {"connection": hidden.pk}).status_code == 404
    assert client.get(reverse("organization_home"), {"connection": "x"}).status_code == 404


def test_a_remembered_connection_the_user_lost_falls_back_to_one_they_read(
    client: Client, personas: Personas, second: AwsConnection
) -> None:
    personas.login(client, "viewer")
    client.get(reverse("organization", args=[second.pk]))
    second.grants.all().delete()
    response = client.get(reverse("organization_home"))
    assert response["Location"] == reverse("organization", args=[personas.connection.pk])


def test_without_a_connection_the_organization_tab_says_so(client: Client, personas: Personas) -> None:
    personas.login(client, "outsider")
    assert client.get(reverse("organization_home")).status_code == 404
