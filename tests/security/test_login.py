"""Signing in and out: audited, locked after repeated failures (per username and per address), POST-only logout."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, ip: str = "198.51.100.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_signing_in_is_audited_and_lands_on_the_inbox(client, personas):
    response = sign_in(client, "april", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    event = AuditEvent.objects.get(action="login")
    assert (event.actor_id, event.actor_label, event.ip, event.outcome) == (
        personas.approver.pk,
        "april",
        "198.51.100.1",
        "ok",
    )


def test_a_failed_sign_in_is_audited_without_the_password(client, personas):
    response = sign_in(client, "april", "wrong-password-123")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.actor_id, event.actor_label, event.outcome) == (None, "april", "denied")
    assert event.params == {"username": "april"}
    assert "wrong-password-123" not in str(AuditEvent.objects.values_list())


@override_settings(LOGIN_LOCKOUT_ATTEMPTS=3, LOGIN_LOCKOUT_SECONDS=900)
def test_username_is_locked_after_repeated_failures_even_with_the_right_password(client, personas):
    for n in range(3):
        sign_in(client, "april", "nope", ip=f"198.51.100.{n + 10}")
    response = sign_in(client, "april", PASSWORD, ip="198.51.100.99")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    locked = AuditEvent.objects.get(action="login_locked")
    assert locked.params == {"username": "april", "locked_by": "username"}
    # Someone else signs in as usual.
    assert sign_in(Client(), "victor", PASSWORD, ip="198.51.100.98").status_code == 302


@override_settings(LOGIN_LOCKOUT_ATTEMPTS=3, LOGIN_LOCKOUT_SECONDS=900)
def test_an_address_is_locked_after_failures_across_usernames(client, personas):
    for name in ("nobody1", "nobody2", "nobody3"):
        sign_in(client, name, "guess", ip="203.0.113.66")
    assert sign_in(client, "victor", PASSWORD, ip="203.0.113.66").status_code == 429
    assert sign_in(Client(), "victor", PASSWORD, ip="203.0.113.67").status_code == 302


@override_settings(LOGIN_LOCKOUT_ATTEMPTS=3, LOGIN_LOCKOUT_SECONDS=0)
def test_the_lock_lifts_when_the_window_has_passed(client, personas):
    for _ in range(3):
        sign_in(client, "april", "nope")
    assert sign_in(client, "april", PASSWORD).status_code == 302


@override_settings(LOGIN_LOCKOUT_ATTEMPTS=3)
def test_a_successful_sign_in_clears_that_users_failures(client, personas):
    sign_in(client, "april", "nope", ip="198.51.100.1")
    sign_in(client, "april", "nope", ip="198.51.100.2")
    assert sign_in(client, "april", PASSWORD, ip="198.51.100.3").status_code == 302
    sign_in(Client(), "april", "nope", ip="198.51.100.4")
    assert sign_in(Client(), "april", PASSWORD, ip="198.51.100.5").status_code == 302


def test_next_is_followed_only_within_the_site(client, personas):
    response = client.post("/accounts/login/", {"username": "april", "password": PASSWORD, "next": "/audit/"})
    assert response["Location"] == "/audit/"
    response = Client().post(
        "/accounts/login/", {"username": "april", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_logout_is_post_only_and_audited(client, personas):
    personas.login(client, "viewer")
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    event = AuditEvent.objects.get(action="logout")
    assert event.actor_label == "victor"
    assert client.get("/").status_code == 302  # signed out


def test_login_form_needs_csrf(personas):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"username": "april", "password": PASSWORD}).status_code == 403


def test_admin_login_goes_through_the_portal_login(client):
    response = client.get("/admin/login/", {"next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
