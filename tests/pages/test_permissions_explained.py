"""Permissions explained: a refusal for want of a role is a 403 page that names the role, the
connection and who can grant it (the connection's admins); the inbox never promises an answer
the user may not give."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection, Role
from tests.conftest import Personas

from .test_lists import body

pytestmark = pytest.mark.django_db


def test_a_viewer_opening_an_accept_link_is_told_the_role_the_connection_and_who_grants_it(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    invitation = make_handshake(synced, action="TRANSFER_RESPONSIBILITY")
    personas.login(client, "viewer")
    response = client.get(reverse("handshake_accept", args=[invitation.pk]))
    assert response.status_code == 403
    html = body(response)
    assert "This needs the <strong>Approver</strong> role on <strong>Acme payer</strong>" in html
    assert "<strong>alice</strong>" in html  # the connection's admin grants roles
    assert "<strong>root</strong>" not in html  # a superuser is not the connection's person to ask


def test_a_refusal_by_a_service_reads_the_same(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    invitation = make_handshake(synced, action="TRANSFER_RESPONSIBILITY")
    personas.login(client, "viewer")
    response = client.post(reverse("handshake_decline", args=[invitation.pk]), {"confirmed": "1"})
    assert response.status_code == 403
    assert "role on <strong>Acme payer</strong>" in body(response)


def test_a_viewer_inbox_says_waiting_for_an_answer_and_who_can_give_it(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    make_handshake(synced, action="TRANSFER_RESPONSIBILITY")
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    assert "Waiting for your answer" not in html
    assert "Waiting for an answer (1)" in html
    assert "Answered by an approver of Acme payer: alice, april" in html


def test_an_approver_inbox_says_waiting_for_your_answer(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    make_handshake(synced, action="TRANSFER_RESPONSIBILITY")
    personas.login(client, "approver")
    html = body(client.get(reverse("inbox")))
    assert "Waiting for your answer (1)" in html
    assert reverse("handshake_accept", args=[1]).split("1")[0] in html


def test_a_mixed_inbox_promises_only_the_invitations_the_user_may_answer(
    client: Client,
    personas: Personas,
    synced: AwsConnection,
    make_connection: Callable,
    make_handshake: Callable,
    grant: Callable,
) -> None:
    other = make_connection(name="Woodgrove Bank")
    grant(personas.approver, other, Role.VIEWER)
    make_handshake(synced, action="TRANSFER_RESPONSIBILITY")
    make_handshake(other, action="TRANSFER_RESPONSIBILITY")
    personas.login(client, "approver")
    html = body(client.get(reverse("inbox")))
    assert "Waiting for an answer (2)" in html
    assert "Answered by an approver of Woodgrove Bank" in html
