"""The billing map: who pays for whom across the user's connections, one edge per AWS transfer
(both sides held: drawn once), chains left to right, a calendar and a table behind the drawing,
and nothing from a connection the user cannot read."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection, Role
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def test_the_map_draws_each_transfer_once_and_a_chain_left_to_right(
    client: Client,
    personas: Personas,
    synced: AwsConnection,
    make_connection: Callable,
    make_transfer: Callable,
    make_account: Callable,
    grant: Callable,
) -> None:
    payer_side = make_connection(name="Middle Co", management_account_id="222222222222", account_id="222222222222")
    grant(personas.viewer, payer_side, Role.VIEWER)
    make_account(synced, "333333333333", "Leaf Org")
    start = datetime(2026, 7, 1, tzinfo=UTC)
    # 111 pays for 222 (held by both sides), 222 pays for 333: a chain of two.
    for connection, direction in ((synced, "inbound"), (payer_side, "outbound")):
        make_transfer(
            connection,
            transfer_id="rt-aaaaaaaaaaaa",
            direction=direction,
            status="ACCEPTED",
            source_account_id="222222222222",
            target_account_id="111111111111",
            start_at=start,
        )
    make_transfer(
        payer_side,
        transfer_id="rt-bbbbbbbbbbbb",
        status="REQUESTED",
        source_account_id="333333333333",
        target_account_id="222222222222",
        start_at=start,
    )
    hidden = make_connection(name="Not yours", management_account_id="999999999999")
    make_transfer(
        hidden, transfer_id="rt-cccccccccccc", source_account_id="999999999999", target_account_id="888888888888"
    )

    personas.login(client, "viewer")
    html = client.get(reverse("billing_map")).content.decode()
    svg = html.split("<svg")[1].split("</svg>")[0]
    assert svg.count('<g class="edge') == 2 and "rt-cccccccccccc" not in html and "Not yours" not in html
    assert "Acme payer" in svg and "Middle Co" in svg and "Leaf Org" in svg
    assert "Transfer accepted" in svg and "from 2026-07" in svg and "Awaiting response" in svg
    assert 'aria-labelledby="map-title map-desc"' in svg and "<desc" in svg and "style=" not in svg
    # Columns: the leaf, then its payer, then the payer's payer.
    xs = {name: int(x) for x, name in re.findall(r'class="org-name" x="(\d+)" y="\d+">([^<]+)<', svg)}
    assert xs["Leaf Org"] < xs["Middle Co"] < xs["Acme payer"]
    # The table behind the drawing, and the calendar.
    assert html.count('<tr data-id="rt-') == 2
    assert ">2026-07</th>" in html
    assert 'href="/billing-map/"' in html  # in the nav
