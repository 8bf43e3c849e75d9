"""One row per transfer: where the portal holds both sides of a billing transfer (the payer's
connection caches it inbound, the source's outbound), the list shows it once, says which sides
the user holds, acts with the side whose role allows the action, and its export agrees."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orgportal.models import AwsConnection, Role
from tests.conftest import Personas
from transfers.models import Direction, ResponsibilityTransfer

from .test_lists import body, next_link, transfer_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(make_connection: Callable, personas: Personas, grant: Callable) -> AwsConnection:
    """The organization whose bills the payer (`personas.connection`) pays; the viewer reads it,
    and holds the Operator role there only."""
    connection = make_connection(name="Fabrikam source", last_synced_at=timezone.now())
    connection.management_account_id = connection.account_id = "222222222222"
    connection.save()
    grant(personas.viewer, connection, Role.OPERATOR)
    return connection


def both_sides(make_transfer: Callable, payer: AwsConnection, source: AwsConnection, **fields: Any) -> str:
    """One AWS transfer cached twice: inbound at the payer, outbound at the source."""
    inbound = make_transfer(payer, source_account_id="222222222222", **fields)
    make_transfer(
        source,
        **{
            **fields,
            "transfer_id": inbound.transfer_id,
            "name": inbound.name,
            "direction": Direction.OUTBOUND,
            "source_account_id": "222222222222",
            "target_account_id": inbound.target_account_id,
            "start_at": inbound.start_at,
        },
    )
    return inbound.transfer_id


@pytest.fixture
def viewer(client: Client, personas: Personas, synced: AwsConnection) -> Client:
    return personas.login(client, "viewer")


def test_a_transfer_held_on_both_sides_is_one_row_naming_both(
    viewer: Client, synced: AwsConnection, source: AwsConnection, make_transfer: Callable
) -> None:
    shared = [both_sides(make_transfer, synced, source) for _ in range(3)]
    only_payer = make_transfer(synced).transfer_id
    html = body(viewer.get(reverse("transfer_list")))
    assert sorted(transfer_ids(html)) == sorted([*shared, only_payer])
    row = re.search(rf'<tr data-id="{shared[0]}">.*?</tr>', html, re.S)
    assert row is not None
    assert "Acme payer" in row[0] and "Fabrikam source" in row[0]
    assert "We pay" in row[0] and "Paid for" in row[0]


def test_direction_filter_shows_the_side_asked_for_once(
    viewer: Client, synced: AwsConnection, source: AwsConnection, make_transfer: Callable
) -> None:
    shared = both_sides(make_transfer, synced, source)
    html = body(viewer.get(reverse("transfer_list"), {"direction": "outbound"}))
    assert transfer_ids(html) == [shared]
    html = body(viewer.get(reverse("transfer_list"), {"direction": "inbound"}))
    assert transfer_ids(html) == [shared]
    html = body(viewer.get(reverse("transfer_list"), {"connection": source.pk}))
    assert transfer_ids(html) == [shared]


def test_the_action_link_uses_the_side_whose_role_allows_it(
    viewer: Client, synced: AwsConnection, source: AwsConnection, make_transfer: Callable
) -> None:
    # The viewer only reads the payer's side but may operate on the source's: "Rename" acts there.
    shared = both_sides(make_transfer, synced, source, status="REQUESTED")
    source_side = ResponsibilityTransfer.objects.get(connection=source, transfer_id=shared)
    html = body(viewer.get(reverse("transfer_list")))
    assert reverse("transfer_rename", args=[source_side.pk]) in html
    payer_side = ResponsibilityTransfer.objects.get(connection=synced, transfer_id=shared)
    assert reverse("transfer_rename", args=[payer_side.pk]) not in html


def test_keyset_pages_list_each_transfer_once(
    viewer: Client, synced: AwsConnection, source: AwsConnection, make_transfer: Callable
) -> None:
    expected = {both_sides(make_transfer, synced, source) for _ in range(60)}
    seen: list[str] = []
    url: str | None = reverse("transfer_list")
    while url:
        html = body(viewer.get(url))
        seen += transfer_ids(html)
        link = next_link(html)
        url = reverse("transfer_list") + link if link else None
    assert sorted(seen) == sorted(expected)


def test_the_export_holds_one_row_per_transfer_with_the_sides_held(
    viewer: Client, synced: AwsConnection, source: AwsConnection, make_transfer: Callable
) -> None:
    shared = both_sides(make_transfer, synced, source, status="ACCEPTED")
    make_transfer(synced, status="WITHDRAWN")
    params = {"status": "ACCEPTED"}
    html = body(viewer.get(reverse("transfer_list"), params))
    response = viewer.get(reverse("transfer_export"), params)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["transfer_id"] for r in rows] == transfer_ids(html) == [shared]
    assert rows[0]["also_held_by"] == "Fabrikam source"


def test_query_count_stays_flat_with_both_sides_held(
    viewer: Client,
    synced: AwsConnection,
    source: AwsConnection,
    make_transfer: Callable,
    django_assert_max_num_queries: Callable,
) -> None:
    both_sides(make_transfer, synced, source)
    with django_assert_max_num_queries(30) as one:
        assert viewer.get(reverse("transfer_list")).status_code == 200
    for _ in range(30):
        both_sides(make_transfer, synced, source)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert viewer.get(reverse("transfer_list")).status_code == 200
