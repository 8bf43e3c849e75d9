"""The CSV exports parse the list's query string with the list's own parser (one filter parser):
the file holds the rows the page shows, named parties and ignored bad values included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import AwsConnection
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def _csv(response: Any) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_transfer_export_filters_a_party_by_its_account_name_like_the_list(
    client: Client, personas: Personas, synced: AwsConnection, make_transfer: Callable, make_account: Callable
) -> None:
    make_account(synced, "333333333333", "Fabrikam Payer")
    make_transfer(synced, transfer_id="rt-fabrikam1", source_account_id="333333333333")
    make_transfer(synced, transfer_id="rt-otherone1")
    auditor = personas.login(client, "auditor")
    params = {"party": "fabrikam payer", "start": "not-a-month"}  # the bad month is ignored by both
    page = auditor.get(reverse("transfer_list"), params).content.decode()
    exported = _csv(auditor.get(reverse("transfer_export"), params))
    assert "rt-fabrikam1" in page and "rt-otherone1" not in page
    assert "rt-fabrikam1" in exported and "rt-otherone1" not in exported


def test_handshake_export_ignores_an_unknown_state_like_the_list(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    make_handshake(synced, handshake_id="h-aaaaaaaaaa", state="OPEN")
    make_handshake(synced, handshake_id="h-bbbbbbbbbb", state="DECLINED", action="TRANSFER_RESPONSIBILITY")
    auditor = personas.login(client, "auditor")
    params = {"state": "NOT_A_STATE", "action": "TRANSFER_RESPONSIBILITY"}
    page = auditor.get(reverse("handshake_list"), params).content.decode()
    exported = _csv(auditor.get(reverse("handshake_export"), params))
    assert "Ignored the state filter" in page
    for body in (page, exported):
        assert "h-bbbbbbbbbb" in body and "h-aaaaaaaaaa" not in body


@pytest.mark.parametrize(
    ("list_name", "export_name"), [("transfer_list", "transfer_export"), ("handshake_list", "handshake_export")]
)
def test_the_export_link_is_swapped_with_the_rows_and_names_the_same_query(
    client: Client, personas: Personas, synced: AwsConnection, list_name: str, export_name: str
) -> None:
    viewer = personas.login(client, "viewer")
    # An in-place filter (htmx) answers only #rows: the export link must be inside it, built from
    # this request's query (cursor dropped: the file holds every page), and the sort the filter
    # form submits next is updated out of band.
    html = viewer.get(
        reverse(list_name),
        {"status": "ACCEPTED", "state": "OPEN", "sort": "-changed", "cursor": "x"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    export = reverse(export_name)
    link = html.split(f'href="{export}')[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith("?") and "cursor" not in link and "sort=-changed" in link
    assert ("status=ACCEPTED" in link) or ("state=OPEN" in link)
    assert 'id="list-sort" value="-changed" hx-swap-oob="true"' in html
    full = viewer.get(reverse(list_name)).content.decode()
    form = full.split('<form class="filters"')[1].split("</form>")[0]
    assert export not in form and "hx-push-url" in full.split('<form class="filters"')[1].split(">")[0]
