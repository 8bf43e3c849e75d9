"""Signing in and out: audited, throttled per (username, address) with a growing delay and per address
past a high ceiling, usernames counted as authentication normalizes them, a bounded audit trail
under a flood, POST-only logout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings

from audit.models import AuditEvent
from orgportal.models import LoginThrottle
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, ip: str = "198.51.100.1", **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


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


THROTTLE = {"LOGIN_FREE_ATTEMPTS": 3, "LOGIN_DELAY_SECONDS": 60, "LOGIN_IP_ATTEMPTS": 20}
FULLWIDTH_APRIL = "\uff41\uff50\uff52\uff49\uff4c"  # "april" in full-width letters


def time_passes(seconds: int) -> None:
    """Move every throttle row back in time (the delay and the burst are measured from them)."""
    shift = timedelta(seconds=seconds)
    for row in LoginThrottle.objects.all():
        row.first_at -= shift
        row.last_at -= shift
        row.locked_until = row.locked_until - shift if row.locked_until else None
        row.save()


@override_settings(**THROTTLE)
def test_a_username_waits_after_repeated_failures_from_one_address_even_with_the_right_password(client, personas):
    for _ in range(3):
        sign_in(client, "april", "nope", ip="198.51.100.10")
    response = sign_in(client, "april", PASSWORD, ip="198.51.100.10")
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    locked = AuditEvent.objects.get(action="login_locked")
    assert locked.params == {"username": "april", "locked_by": "username", "failures": 3, "wait_seconds": 60}


@override_settings(**THROTTLE)
def test_a_look_alike_username_is_held_with_the_one_it_normalizes_to(client, personas):
    for _ in range(3):
        sign_in(client, "april", "nope", ip="198.51.100.10")
    # Django signs "april" in when the username is typed in full-width letters (NFKC): so must the
    # throttle count it as "april", or the look-alike walks past the delay with the right password.
    response = sign_in(client, FULLWIDTH_APRIL, PASSWORD, ip="198.51.100.10")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@override_settings(**THROTTLE)
def test_look_alike_failures_count_towards_the_same_username(client, personas):
    sign_in(client, "april", "nope", ip="198.51.100.10")
    sign_in(client, FULLWIDTH_APRIL, "nope", ip="198.51.100.10")
    sign_in(client, "april", "nope", ip="198.51.100.10")
    assert sign_in(client, "april", PASSWORD, ip="198.51.100.10").status_code == 429


@override_settings(**THROTTLE)
def test_nobody_can_lock_a_username_out_for_everybody(client, personas):
    for _ in range(10):
        sign_in(Client(), "april", "nope", ip="203.0.113.66")  # an attacker who knows the name
    assert sign_in(Client(), "april", "nope", ip="203.0.113.66").status_code == 429
    # April herself, from her own address, signs in.
    assert sign_in(client, "april", PASSWORD, ip="198.51.100.7").status_code == 302


@override_settings(**THROTTLE)
def test_one_users_failures_do_not_hold_others_behind_the_same_address(client, personas):
    for name in ("nobody1", "nobody1", "nobody1", "nobody2", "nobody3"):
        sign_in(Client(), name, "guess", ip="203.0.113.66")
    # A NAT: someone else behind the same address signs in as usual.
    assert sign_in(client, "victor", PASSWORD, ip="203.0.113.66").status_code == 302


@override_settings(**{**THROTTLE, "LOGIN_IP_ATTEMPTS": 6})
def test_an_address_spraying_many_usernames_waits_past_a_high_ceiling(client, personas):
    for n in range(6):
        sign_in(Client(), f"nobody{n}", "guess", ip="203.0.113.66")
    assert sign_in(client, "victor", PASSWORD, ip="203.0.113.66").status_code == 429
    assert sign_in(Client(), "victor", PASSWORD, ip="203.0.113.67").status_code == 302


@override_settings(**THROTTLE)
def test_the_delay_grows_exponentially_and_lifts_when_it_has_passed(client, personas):
    for _ in range(3):
        sign_in(client, "april", "nope")
    assert sign_in(client, "april", "nope").status_code == 429
    time_passes(61)
    sign_in(client, "april", "nope")  # the 4th failure: 2 x the delay
    assert sign_in(client, "april", PASSWORD)["Retry-After"] == "120"
    time_passes(121)
    assert sign_in(client, "april", PASSWORD).status_code == 302


@override_settings(**THROTTLE)
def test_a_successful_sign_in_clears_that_users_failures(client, personas):
    sign_in(client, "april", "nope")
    sign_in(client, "april", "nope")
    assert sign_in(client, "april", PASSWORD).status_code == 302
    sign_in(Client(), "april", "nope")
    sign_in(Client(), "april", "nope")
    assert sign_in(Client(), "april", PASSWORD).status_code == 302


# A fast hasher: the flood is about the trail, not about PBKDF2's cost (the personas' PBKDF2
# hashes are then never accepted, which no attempt here needs).
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], **THROTTLE)
def test_200_anonymous_posts_write_a_handful_of_audit_rows(personas):
    for n in range(100):
        sign_in(Client(), "april", f"guess-{n}", ip="203.0.113.66")  # one name, hammered
    for n in range(100):
        sign_in(Client(), f"user{n}", "guess", ip="203.0.113.77")  # many names from one host
    rows = AuditEvent.objects.filter(action__startswith="login")
    assert rows.count() <= 8, list(rows.values_list("action", "params"))
    # Nothing is lost: the summaries written when the bursts end count every attempt.
    time_passes(901)
    sign_in(Client(), "victor", "anything", ip="192.0.2.1")  # the next attempt, from anyone, writes them
    counted = AuditEvent.objects.filter(action__in=["login_failed", "login_failed_burst", "login_locked"]).exclude(
        params__username="victor"
    )
    total = sum(
        1 if event.action == "login_failed" else event.params["failures"] + event.params["refused"]
        for event in counted
        if event.action != "login_locked"  # the moment a delay started: news, not a count
    )
    assert total == 200
    assert AuditEvent.objects.filter(action__startswith="login").count() <= 12


def test_nul_in_the_username_is_a_400_not_a_500(client, personas):
    client.raise_request_exception = False
    response = client.post(
        "/accounts/login/", data="username=apr%00il&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "control character" in response.content.decode()


def test_signed_in_a_relative_next_goes_to_the_inbox_not_a_500(client, personas):
    personas.login(client, "viewer")
    client.raise_request_exception = False
    response = client.get("/accounts/login/", {"next": "foo"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/accounts/login/", {"next": "/audit/"})["Location"] == "/audit/"


@override_settings(TRUSTED_PROXIES=1, **THROTTLE)
def test_behind_a_proxy_the_client_is_the_hop_it_appended_not_one_the_client_wrote(client, personas):
    for n in range(3):
        # The client writes a different address in front each time; our proxy appends the real one.
        sign_in(Client(), "april", "nope", ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.9")
    blocked = sign_in(Client(), "april", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.9")
    assert blocked.status_code == 429
    assert AuditEvent.objects.filter(action="login_failed").first().ip == "198.51.100.9"


@override_settings(TRUSTED_PROXIES=0, **THROTTLE)
def test_without_a_proxy_x_forwarded_for_is_ignored(client, personas):
    for n in range(3):
        sign_in(Client(), "april", "nope", ip="198.51.100.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert sign_in(Client(), "april", PASSWORD, ip="198.51.100.9").status_code == 429


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
