"""Users and grants: admins grant and revoke roles on their own connections only; every change is audited."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgportal.models import Grant, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_connection(make_connection):
    return make_connection(name="Globex payer")


def test_admin_sees_the_grants_on_their_connection(client, personas):
    personas.login(client, "admin")
    html = client.get("/accounts/users/").content.decode()
    assert "audrey" in html and "Auditor" in html


@pytest.mark.parametrize("name", ["operator", "approver", "viewer", "auditor", "outsider"])
def test_only_admins_manage_users(client, personas, name):
    personas.login(client, name)
    assert client.get("/accounts/users/").status_code == 403
    response = client.post(
        "/accounts/users/grants/", {"user": "mallory", "connection": personas.connection.pk, "role": Role.ADMIN}
    )
    assert response.status_code == 403
    assert not Grant.objects.filter(user=personas.outsider).exists()


def test_admin_grants_a_role_and_it_is_audited(client, personas):
    personas.login(client, "admin")
    response = client.post(
        "/accounts/users/grants/", {"user": "victor", "connection": personas.connection.pk, "role": Role.APPROVER}
    )
    assert response.status_code == 302
    assert Grant.objects.filter(user=personas.viewer, connection=personas.connection, role=Role.APPROVER).exists()
    event = AuditEvent.objects.get(action="grant_add")
    assert event.actor_label == "alice" and event.connection_id == personas.connection.pk
    assert event.params == {"user": "victor", "user_id": personas.viewer.pk, "role": "approver"}


def test_a_users_first_grant_comes_from_a_superuser(client, personas):
    personas.login(client, "admin")
    outsider = {"user": "mallory", "connection": personas.connection.pk, "role": Role.VIEWER}
    assert client.post("/accounts/users/grants/", outsider).status_code == 400
    personas.login(client, "superuser")
    assert client.post("/accounts/users/grants/", outsider).status_code == 302
    assert Grant.objects.filter(user=personas.outsider, connection=personas.connection, role=Role.VIEWER).exists()


def test_admin_revokes_a_role_and_it_is_audited(client, personas):
    grant = Grant.objects.get(user=personas.viewer, connection=personas.connection)
    personas.login(client, "admin")
    assert client.post(f"/accounts/users/grants/{grant.pk}/revoke/").status_code == 302
    assert not Grant.objects.filter(pk=grant.pk).exists()
    event = AuditEvent.objects.get(action="grant_remove")
    assert event.params == {"user": "victor", "user_id": personas.viewer.pk, "role": "viewer"}


def test_admin_cannot_touch_another_connections_grants(client, personas, other_connection, make_user):
    stranger = make_user("sam", roles=[Role.VIEWER], connection=other_connection)
    personas.login(client, "admin")
    response = client.post(
        "/accounts/users/grants/", {"user": "mallory", "connection": other_connection.pk, "role": Role.ADMIN}
    )
    assert response.status_code == 404
    grant = Grant.objects.get(user=stranger)
    assert client.post(f"/accounts/users/grants/{grant.pk}/revoke/").status_code == 404
    assert Grant.objects.filter(pk=grant.pk).exists()
    assert "Globex payer" not in client.get("/accounts/users/").content.decode()
    assert not AuditEvent.objects.filter(action__startswith="grant").exists()


def test_grant_and_revoke_need_post(client, personas):
    personas.login(client, "admin")
    assert client.get("/accounts/users/grants/").status_code == 405
    grant = Grant.objects.get(user=personas.viewer)
    assert client.get(f"/accounts/users/grants/{grant.pk}/revoke/").status_code == 405
