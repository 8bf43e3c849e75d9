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
