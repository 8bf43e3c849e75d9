"""After an action, every cached copy agrees: when the portal holds the other side of what was
acted on (another connection caching the same handshake or transfer id), that side is re-read
at once from AWS (DescribeHandshake / DescribeResponsibilityTransfer through the gateway, with
that connection's own credentials) — not a full sync — and the page says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from handshakes.models import Direction, Handshake
from orgportal.models import Role, SyncRun
from tests.actions.conftest import Invitation, calls_of
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def _signed_in(make_user: Any, name: str, role: str, connection: Any) -> Client:
    client = Client()
    client.force_login(make_user(name, roles=[role], connection=connection))
    return client


def test_accept_on_the_source_side_refreshes_the_payers_copies_at_once(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    payer = billing_invitation.payer.connection
    sent = Handshake.objects.get(connection=payer, handshake_id=billing_invitation.handshake.handshake_id)
    inbound = ResponsibilityTransfer.objects.get(connection=payer)
    assert sent.direction == Direction.SENT and sent.state != "ACCEPTED" and inbound.status == "REQUESTED"
    runs = SyncRun.objects.count()
    client = _signed_in(make_user, "april", Role.APPROVER, billing_invitation.source.connection)
    response = client.post(
        reverse("handshake_accept", args=[billing_invitation.handshake.pk]),
        {"confirmed": "on", "understood": "on", "next": "/"},
        follow=True,
    )
    assert response.status_code == 200
    sent.refresh_from_db()
    inbound.refresh_from_db()
    assert sent.state == "ACCEPTED" and inbound.status == "ACCEPTED"
    # A targeted re-read of each copy, not a sync.
    assert calls_of(orgsim, "DescribeHandshake") == 1
    assert calls_of(orgsim, "DescribeResponsibilityTransfer") == 1
    assert calls_of(orgsim, "ListHandshakesForOrganization") == 0
    assert SyncRun.objects.count() == runs
    assert "other side" in response.content.decode() and "refreshed" in response.content.decode()


def test_rename_on_one_side_renames_the_other_sides_copy(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    payer = billing_invitation.payer.connection
    inbound = ResponsibilityTransfer.objects.get(connection=payer)
    outbound = ResponsibilityTransfer.objects.get(connection=billing_invitation.source.connection)
    client = _signed_in(make_user, "oscar", Role.OPERATOR, payer)
    response = client.post(
        reverse("transfer_rename", args=[inbound.pk]), {"name": "Renamed billing", "confirmed": "on"}
    )
    assert response.status_code == 302
    outbound.refresh_from_db()
    assert outbound.name == "Renamed billing"
    assert calls_of(orgsim, "DescribeResponsibilityTransfer") == 1


def test_a_failed_re_read_of_the_other_side_leaves_the_action_done_and_says_when(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    payer = billing_invitation.payer.connection
    payer.endpoint_url = "http://127.0.0.1:9"  # the payer's side cannot be reached just now
    payer.save()
    client = _signed_in(make_user, "april", Role.APPROVER, billing_invitation.source.connection)
    response = client.post(
        reverse("handshake_accept", args=[billing_invitation.handshake.pk]),
        {"confirmed": "on", "understood": "on", "next": "/"},
        follow=True,
    )
    billing_invitation.handshake.refresh_from_db()
    assert billing_invitation.handshake.state == "ACCEPTED"
    assert "next sync" in response.content.decode()
