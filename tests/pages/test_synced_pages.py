"""Integration: a real sync from orgsim (boto3 over HTTP) fills the cache; the pages render it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection, Role
from orgportal.sync import sync_connection
from tests.conftest import SimOrg

pytestmark = pytest.mark.django_db


def test_synced_invitation_shows_in_the_inbox_and_lists(
    client: Client, sim_org: SimOrg, sim_connection: AwsConnection, make_user: Callable[..., Any]
) -> None:
    sim_org.add_member()
    invited = "222222229999"
    sim_org.client.invite_account_to_organization(Target={"Id": invited, "Type": "ACCOUNT"})
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok", getattr(run, "error", run)

    user = make_user("fiona", roles=[Role.VIEWER], connection=sim_connection)
    client.force_login(user)
    inbox = client.get(reverse("inbox")).content.decode()
    assert "Sent, waiting for the other side" in inbox
    sent = inbox[inbox.index("Sent, waiting") :]
    assert invited in sent and "data-countdown" in sent
    assert "synced" in inbox and 'class="fresh never"' not in inbox

    handshakes = client.get(reverse("handshake_list"), {"action": "INVITE", "state": "OPEN"}).content.decode()
    assert invited in handshakes
    handshake_pk = sim_connection.handshakes.get(counterparty=invited).pk
    detail = client.get(reverse("handshake_detail", args=[handshake_pk])).content.decode()
    assert invited in detail and "Resources" in detail and "First seen" in detail


FABRIKAM = "433344455566"  # orgsim demo: Fabrikam Health, invited by Northwind to transfer its billing
NORTHWIND = "210987654321"  # orgsim demo: Northwind Cloud Partners, the billing partner


def test_demo_sync_shows_fabrikams_open_billing_invitation_in_its_inbox(
    client: Client, orgsim_demo: Any, make_connection: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    fabrikam = make_connection(name="Fabrikam Health", account_id=FABRIKAM, endpoint_url=orgsim_demo.endpoint)
    northwind = make_connection(
        name="Northwind Cloud Partners", account_id=NORTHWIND, endpoint_url=orgsim_demo.endpoint
    )
    for connection in (fabrikam, northwind):
        run = sync_connection(connection)
        assert run is not None and run.status == "ok", getattr(run, "error", run)
    invitation = fabrikam.handshakes.get(action="TRANSFER_RESPONSIBILITY", state="OPEN", direction="received")

    user = make_user("frank", roles=[Role.APPROVER], connection=fabrikam)
    client.force_login(user)
    inbox = client.get(reverse("inbox")).content.decode()
    received = inbox[inbox.index("Waiting for your answer") : inbox.index("Sent, waiting")]
    assert invitation.handshake_id in received
    assert reverse("handshake_detail", args=[invitation.pk]) in received
    assert "Billing transfer" in received and "data-countdown" in received and "left" in received
    assert NORTHWIND in received  # who invites (Northwind is not one of this user's connections)
    assert "Fabrikam Health synced" in inbox

    # Another connection's invitation is not this user's: its detail is a 404.
    sent = northwind.handshakes.get(transfer_id=invitation.transfer_id)
    assert client.get(reverse("handshake_detail", args=[sent.pk])).status_code == 404
