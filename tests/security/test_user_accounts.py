"""Admins add users from the Users page (never typing a password: the new user sets their own
through a one-time link, Django's password-reset token) and deactivate them; tenant walls hold
and every change is audited."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEvent
from orgportal.models import Grant, Role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unguessable-phrase-42"


@pytest.fixture
def other_connection(make_connection):
    return make_connection(name="Globex payer")


def _link(html: str) -> str:
    return re.search(r"https?://[^/]+(/accounts/set-password/[^<\s]+)", html)[1]


def test_admin_adds_a_user_who_sets_their_own_password_through_a_one_time_link(client, personas):
    personas.login(client, "admin")
    response = client.post(
        "/accounts/users/new/",
        {"username": "finn", "email": "finn@example.com", "connection": personas.connection.pk, "role": Role.VIEWER},
    )
    assert response.status_code == 302
    finn = get_user_model().objects.get(username="finn")
    assert not finn.has_usable_password() and finn.is_active
    assert Grant.objects.filter(user=finn, connection=personas.connection, role=Role.VIEWER).exists()
    event = AuditEvent.objects.get(action="user_create")
    assert event.actor_label == "alice" and event.params["user"] == "finn" and event.params["role"] == "viewer"

    page = client.get("/accounts/users/").content.decode()
    link = _link(page)
    assert "/accounts/set-password/" not in client.get("/accounts/users/").content.decode()  # shown once

    newcomer = Client()
    form_page = newcomer.get(link, follow=True)
    assert form_page.status_code == 200 and "Choose your password" in form_page.content.decode()
    done = newcomer.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    finn.refresh_from_db()
    assert finn.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="user_password_set", actor_label="finn").exists()
    # The link works once.
    again = Client().get(link, follow=True).content.decode()
    assert "has been used or has expired" in again


def test_an_admin_adds_users_only_on_their_own_connections(client, personas, other_connection):
    personas.login(client, "admin")
    response = client.post(
        "/accounts/users/new/", {"username": "eve", "connection": other_connection.pk, "role": Role.VIEWER}
    )
    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="eve").exists()


@pytest.mark.parametrize("name", ["operator", "viewer", "auditor", "outsider"])
def test_only_admins_add_or_deactivate_users(client, personas, name):
    personas.login(client, name)
    data = {"username": "eve", "connection": personas.connection.pk, "role": Role.VIEWER}
    assert client.post("/accounts/users/new/", data).status_code == 403
    assert client.post(f"/accounts/users/{personas.viewer.pk}/deactivate/").status_code == 403
    personas.viewer.refresh_from_db()
    assert personas.viewer.is_active


def test_admin_deactivates_a_user_of_their_connection_and_it_is_audited(client, personas):
    personas.login(client, "admin")
    assert client.post(f"/accounts/users/{personas.viewer.pk}/deactivate/").status_code == 302
    personas.viewer.refresh_from_db()
    assert not personas.viewer.is_active and not personas.viewer.has_usable_password()
    assert AuditEvent.objects.get(action="user_deactivate").params["user"] == "victor"
    assert not Client().login(username="victor", password="correct-horse-battery-staple")


def test_a_user_another_tenant_relies_on_is_not_an_admins_to_deactivate(client, personas, other_connection, grant):
    grant(personas.viewer, other_connection, Role.VIEWER)
    personas.login(client, "admin")
    assert client.post(f"/accounts/users/{personas.viewer.pk}/deactivate/").status_code == 403
    assert client.post(f"/accounts/users/{personas.admin.pk}/deactivate/").status_code == 403  # not oneself
    assert client.post(f"/accounts/users/{personas.outsider.pk}/deactivate/").status_code == 404  # unseen
    personas.viewer.refresh_from_db()
    assert personas.viewer.is_active
