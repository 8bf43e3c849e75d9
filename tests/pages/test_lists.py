"""The transfer and handshake lists: filters, search, sort, keyset pages, htmx partials, bad input
and a query count that does not grow with the rows shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from handshakes.models import Handshake
from orgportal.aws import enum_values
from orgportal.listing import PAGE_SIZE
from orgportal.models import AwsConnection
from tests.conftest import Personas
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def body(response: Any) -> str:
    return response.content.decode()


def transfer_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-id="(rt-[0-9a-z]+)">', html)


def handshake_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-id="(h-[0-9a-z]+)">', html)


def next_link(html: str) -> str | None:
    match = re.search(r'<a href="(\?[^"]*)"[^>]*rel="next"', html)
    return match[1].replace("&amp;", "&") if match else None


def previous_link(html: str) -> str | None:
    match = re.search(r'<a href="(\?[^"]*)"[^>]*rel="prev"', html)
    return match[1].replace("&amp;", "&") if match else None


@pytest.fixture
def viewer(client: Client, personas: Personas, synced: AwsConnection) -> Client:
    return personas.login(client, "viewer")


# --- transfers ---------------------------------------------------------------------------------


def test_transfer_filters_by_direction_status_type_and_start_month(
    viewer: Client, synced: AwsConnection, make_transfer: Callable
) -> None:
    make_transfer(
        synced,
        transfer_id="rt-0000000000a1",
        direction="inbound",
        status="ACCEPTED",
        start_at=datetime(2025, 7, 1, tzinfo=UTC),
    )
    make_transfer(
        synced,
        transfer_id="rt-0000000000a2",
        direction="outbound",
        status="ACCEPTED",
        start_at=datetime(2025, 7, 1, tzinfo=UTC),
    )
    make_transfer(
        synced,
        transfer_id="rt-0000000000a3",
        direction="inbound",
        status="REQUESTED",
        start_at=datetime(2025, 8, 1, tzinfo=UTC),
    )
    url = reverse("transfer_list")
    assert transfer_ids(body(viewer.get(url, {"direction": "inbound"}))) == ["rt-0000000000a3", "rt-0000000000a1"]
    assert transfer_ids(body(viewer.get(url, {"status": "REQUESTED"}))) == ["rt-0000000000a3"]
    assert sorted(
        transfer_ids(body(viewer.get(url, {"status": ["REQUESTED", "ACCEPTED"], "direction": "outbound"})))
    ) == ["rt-0000000000a2"]
    assert sorted(transfer_ids(body(viewer.get(url, {"start": "2025-07"})))) == ["rt-0000000000a1", "rt-0000000000a2"]
    assert len(transfer_ids(body(viewer.get(url, {"type": "BILLING"})))) == 3


def test_transfer_status_and_type_choices_come_from_the_botocore_model(viewer: Client) -> None:
    html = body(viewer.get(reverse("transfer_list")))
    for status in enum_values("ResponsibilityTransferStatus"):
        assert f'<option value="{status}"' in html
    for transfer_type in enum_values("ResponsibilityTransferType"):
        assert f'<option value="{transfer_type}"' in html


def test_transfer_search_by_id_name_account_and_email_and_party_filter(
    viewer: Client, synced: AwsConnection, make_transfer: Callable, make_account: Callable
) -> None:
    make_account(synced, "300000000777", "Widgets Ltd")
    make_transfer(
        synced,
        transfer_id="rt-00000000cafe",
        name="Widgets billing",
        source_account_id="300000000777",
        source_email="ap@widgets.example",
    )
    make_transfer(
        synced,
        transfer_id="rt-00000000f00d",
        name="Other",
        source_account_id="300000000888",
        source_email="x@other.example",
    )
    url = reverse("transfer_list")
    for q in ("cafe", "widgets bill", "300000000777", "ap@widgets"):
        assert transfer_ids(body(viewer.get(url, {"q": q}))) == ["rt-00000000cafe"], q
    for party in ("300000000777", "AP@widgets.example", "widgets ltd"):
        assert transfer_ids(body(viewer.get(url, {"party": party}))) == ["rt-00000000cafe"], party


def test_transfer_sort_by_start_both_ways_nulls_last(
    viewer: Client, synced: AwsConnection, make_transfer: Callable
) -> None:
    make_transfer(synced, transfer_id="rt-000000000001", start_at=datetime(2025, 1, 1, tzinfo=UTC))
    make_transfer(synced, transfer_id="rt-000000000003", start_at=datetime(2025, 3, 1, tzinfo=UTC))
    make_transfer(synced, transfer_id="rt-00000000none", start_at=None)
    make_transfer(synced, transfer_id="rt-000000000002", start_at=datetime(2025, 2, 1, tzinfo=UTC))
    url = reverse("transfer_list")
    assert transfer_ids(body(viewer.get(url, {"sort": "start"}))) == [
        "rt-000000000001",
        "rt-000000000002",
        "rt-000000000003",
        "rt-00000000none",
    ]
    assert transfer_ids(body(viewer.get(url, {"sort": "-start"}))) == [
        "rt-000000000003",
        "rt-000000000002",
        "rt-000000000001",
        "rt-00000000none",
    ]


@pytest.mark.parametrize("sort", ["start", "-start", "status", "-status", "changed", "-changed"])
def test_transfer_keyset_pages_cover_every_row_once_forward_and_back(
    viewer: Client, synced: AwsConnection, make_transfer: Callable, sort: str
) -> None:
    statuses = enum_values("ResponsibilityTransferStatus")
    base = timezone.now()
    for n in range(PAGE_SIZE * 2 + 7):
        make_transfer(
            synced,
            status=statuses[n % len(statuses)],
            # Many ties and some NULLs: the pk breaks ties so no row is lost or repeated.
            start_at=None if n % 9 == 0 else datetime(2025, 1 + n % 3, 1, tzinfo=UTC),
            changed_at=base - timedelta(minutes=n % 5),
        )
    url = reverse("transfer_list")
    seen: list[str] = []
    pages: list[list[str]] = []
    link: str | None = f"?sort={sort}"
    while link:
        html = body(viewer.get(url + link))
        pages.append(transfer_ids(html))
        seen += pages[-1]
        link = next_link(html)
    assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert sorted(seen) == sorted(ResponsibilityTransfer.objects.values_list("transfer_id", flat=True))
    # Back from the last page gives the previous page exactly.
    html = body(viewer.get(url + f"?sort={sort}"))
    html2 = body(viewer.get(url + next_link(html)))  # type: ignore[operator]
    html3 = body(viewer.get(url + next_link(html2)))  # type: ignore[operator]
    assert transfer_ids(body(viewer.get(url + previous_link(html3)))) == pages[1]  # type: ignore[operator]
    assert "cursor=" in (next_link(html) or "") and f"sort={sort}" in (next_link(html) or "")


def test_pager_links_keep_the_filters(viewer: Client, synced: AwsConnection, make_transfer: Callable) -> None:
    for _ in range(PAGE_SIZE + 1):
        make_transfer(synced, status="ACCEPTED")
    html = body(viewer.get(reverse("transfer_list"), {"status": "ACCEPTED", "direction": "inbound"}))
    link = next_link(html)
    assert link and "status=ACCEPTED" in link and "direction=inbound" in link


# --- handshakes --------------------------------------------------------------------------------


def test_handshake_filters_by_action_state_direction_party_and_search(
    viewer: Client, synced: AwsConnection, make_handshake: Callable
) -> None:
    make_handshake(
        synced,
        handshake_id="h-00000000aaaa",
        action="INVITE",
        state="OPEN",
        direction="received",
        counterparty="222222222222",
    )
    make_handshake(
        synced,
        handshake_id="h-00000000bbbb",
        action="TRANSFER_RESPONSIBILITY",
        state="OPEN",
        direction="sent",
        counterparty="333333333333",
        transfer_id="rt-0000000000bb",
    )
    make_handshake(
        synced,
        handshake_id="h-00000000cccc",
        action="ENABLE_ALL_FEATURES",
        state="ACCEPTED",
        direction="received",
        counterparty="444444444444",
    )
    url = reverse("handshake_list")
    assert handshake_ids(body(viewer.get(url, {"action": "TRANSFER_RESPONSIBILITY"}))) == ["h-00000000bbbb"]
    assert sorted(handshake_ids(body(viewer.get(url, {"state": "OPEN"})))) == ["h-00000000aaaa", "h-00000000bbbb"]
    assert sorted(handshake_ids(body(viewer.get(url, {"direction": "received"})))) == [
        "h-00000000aaaa",
        "h-00000000cccc",
    ]
    assert handshake_ids(body(viewer.get(url, {"party": "444444444444"}))) == ["h-00000000cccc"]
    assert handshake_ids(body(viewer.get(url, {"q": "h-00000000aaaa"}))) == ["h-00000000aaaa"]  # a whole id
    assert handshake_ids(body(viewer.get(url, {"q": "bbbb"}))) == ["h-00000000bbbb"]  # part of one
    assert handshake_ids(body(viewer.get(url, {"q": "3333333"}))) == ["h-00000000bbbb"]  # the party
    assert handshake_ids(body(viewer.get(url, {"q": "rt-0000000000bb"}))) == ["h-00000000bbbb"]  # its transfer


def test_handshake_action_and_state_choices_come_from_the_botocore_model(viewer: Client) -> None:
    html = body(viewer.get(reverse("handshake_list")))
    for value in [*enum_values("ActionType"), *enum_values("HandshakeState")]:
        assert f'<option value="{value}"' in html


@pytest.mark.parametrize("sort", ["requested", "-requested", "expires", "-expires", "state", "-state", "changed"])
def test_handshake_keyset_pages_cover_every_row_once(
    viewer: Client, synced: AwsConnection, make_handshake: Callable, sort: str
) -> None:
    states = enum_values("HandshakeState")
    now = timezone.now()
    for n in range(PAGE_SIZE + 13):
        make_handshake(
            synced, state=states[n % len(states)], expires_at=None if n % 7 == 0 else now + timedelta(days=n % 4)
        )
    url = reverse("handshake_list")
    seen: list[str] = []
    link: str | None = f"?sort={sort}"
    while link:
        html = body(viewer.get(url + link))
        seen += handshake_ids(html)
        link = next_link(html)
    assert len(seen) == len(set(seen)) == Handshake.objects.count()


# --- htmx, bad input, queries --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["transfer_list", "handshake_list"])
def test_htmx_request_gets_only_the_rows_partial(
    viewer: Client, name: str, make_transfer: Callable, make_handshake: Callable, synced: AwsConnection
) -> None:
    make_transfer(synced)
    make_handshake(synced)
    html = body(viewer.get(reverse(name), HTTP_HX_REQUEST="true"))
    assert html.lstrip().startswith('<div id="rows">')
    assert "<html" not in html and "<form" not in html and "<table" in html
    full = body(viewer.get(reverse(name)))
    assert "<html" in full and 'hx-target="#rows"' in full


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("transfer_list", {"status": "NOPE"}),
        ("transfer_list", {"direction": "sideways"}),
        ("transfer_list", {"start": "2025-13"}),
        ("transfer_list", {"start": "<script>"}),
        ("transfer_list", {"connection": "abc"}),
        ("transfer_list", {"sort": "nonsense"}),
        ("transfer_list", {"cursor": "!!!"}),
        ("transfer_list", {"cursor": "WyJzdGFydCIsIm5vdCBhIGRhdGUiLDEsMF0"}),
        ("transfer_list", {"q": "x" * 500}),
        ("handshake_list", {"state": "NOPE"}),
        ("handshake_list", {"action": "DELETE_EVERYTHING"}),
        ("handshake_list", {"connection": "99999999"}),
        ("handshake_list", {"cursor": "eyJhIjoxfQ"}),
        ("handshake_list", {"sort": "-"}),
    ],
)
def test_bad_filter_values_are_ignored_with_a_notice_never_a_500(
    viewer: Client,
    synced: AwsConnection,
    make_transfer: Callable,
    make_handshake: Callable,
    name: str,
    params: dict[str, str],
) -> None:
    make_transfer(synced)
    make_handshake(synced)
    response = viewer.get(reverse(name), params)
    assert response.status_code == 200
    html = body(response)
    assert 'class="msg-warning"' in html
    assert "<script>" not in html.split("</head>")[1]


@pytest.mark.parametrize("name", ["transfer_list", "handshake_list", "inbox"])
def test_query_count_does_not_grow_with_rows(
    viewer: Client,
    synced: AwsConnection,
    make_connection: Callable,
    make_transfer: Callable,
    make_handshake: Callable,
    make_account: Callable,
    grant: Callable,
    personas: Personas,
    django_assert_max_num_queries: Callable,
    name: str,
) -> None:
    from orgportal.models import Role

    from .conftest import handshake_change, transfer_change

    other = make_connection(name="Second org", last_synced_at=timezone.now())
    grant(personas.viewer, other, Role.APPROVER)

    def add(n: int) -> None:
        for i in range(n):
            connection = synced if i % 2 else other
            t = make_transfer(connection)
            h = make_handshake(
                connection, action="TRANSFER_RESPONSIBILITY", transfer_start_at=timezone.now() + timedelta(days=5)
            )
            make_account(connection, t.source_account_id, f"Account {i}")
            transfer_change(t, "changed", {"status": ["REQUESTED", "ACCEPTED"]})
            handshake_change(h, "changed", {"state": ["REQUESTED", "OPEN"]})

    add(2)  # a row on each connection: one the viewer may answer, one they may not
    # 22: the inbox's 20, one for the requests waiting for a second person (approvals), and one
    # for who can answer the invitations this user may not (the connections' approvers).
    with django_assert_max_num_queries(22) as one:
        assert viewer.get(reverse(name)).status_code == 200
    add(48)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert viewer.get(reverse(name)).status_code == 200


def test_handshake_party_filter_finds_the_other_party_by_its_account_name(
    viewer: Client, synced: AwsConnection, make_handshake: Callable, make_account: Callable
) -> None:
    make_account(synced, "444444444444", "Fabrikam Member")
    make_handshake(synced, handshake_id="h-fabrikam00", counterparty="444444444444")
    make_handshake(synced, handshake_id="h-someone000")
    html = body(viewer.get(reverse("handshake_list"), {"party": "FABRIKAM member"}))
    assert handshake_ids(html) == ["h-fabrikam00"]
    html = body(viewer.get(reverse("handshake_list"), {"party": "444444444444"}))
    assert handshake_ids(html) == ["h-fabrikam00"]
