"""The read-only pages: inbox, billing transfers and handshakes (lists and details).

Rows come from the factories in conftest.py (pages read only the database, never AWS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from front import inbox
from handshakes import selectors
from orgportal.models import AwsConnection, SyncRun
from tests.conftest import Personas

from .conftest import handshake_change, transfer_change

pytestmark = pytest.mark.django_db

PAGES = ["inbox", "transfer_list", "handshake_list"]


def body(response: Any) -> str:
    return response.content.decode()


# --- login and authorization -------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_requires_login(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_details_require_login(
    client: Client, synced: AwsConnection, make_transfer: Callable, make_handshake: Callable
) -> None:
    transfer, handshake = make_transfer(synced), make_handshake(synced)
    for url in (reverse("transfer_detail", args=[transfer.pk]), reverse("handshake_detail", args=[handshake.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_another_users_transfer_and_handshake_are_404(
    client: Client, personas: Personas, make_connection: Callable, make_transfer: Callable, make_handshake: Callable
) -> None:
    elsewhere = make_connection(name="Someone else's org")
    transfer, handshake = make_transfer(elsewhere), make_handshake(elsewhere)
    personas.login(client, "viewer")
    assert client.get(reverse("transfer_detail", args=[transfer.pk])).status_code == 404
    assert client.get(reverse("handshake_detail", args=[handshake.pk])).status_code == 404


def test_lists_show_only_granted_connections(
    client: Client,
    personas: Personas,
    synced: AwsConnection,
    make_connection: Callable,
    make_transfer: Callable,
    make_handshake: Callable,
) -> None:
    elsewhere = make_connection(name="Hidden org")
    make_transfer(synced, name="Our transfer")
    make_transfer(elsewhere, name="Their transfer")
    make_handshake(synced, handshake_id="h-0000000ours")
    make_handshake(elsewhere, handshake_id="h-000000theirs")
    personas.login(client, "viewer")
    transfers = body(client.get(reverse("transfer_list")))
    assert "Our transfer" in transfers and "Their transfer" not in transfers and "Hidden org" not in transfers
    handshakes = body(client.get(reverse("handshake_list")))
    assert "h-0000000ours" in handshakes and "h-000000theirs" not in handshakes
    inbox = body(client.get(reverse("inbox")))
    assert "h-0000000ours" in inbox and "h-000000theirs" not in inbox and "Hidden org" not in inbox


def test_filtering_on_someone_elses_connection_is_ignored_with_a_notice(
    client: Client, personas: Personas, synced: AwsConnection, make_connection: Callable, make_transfer: Callable
) -> None:
    elsewhere = make_connection(name="Hidden org")
    make_transfer(elsewhere, name="Their transfer")
    personas.login(client, "viewer")
    response = client.get(reverse("transfer_list"), {"connection": elsewhere.pk})
    assert response.status_code == 200
    assert "Ignored the connection filter" in body(response) and "Their transfer" not in body(response)


# --- rows, escaping, details -------------------------------------------------------------------


def test_transfer_list_shows_rows_with_party_names_and_escapes_hostile_names(
    client: Client, personas: Personas, synced: AwsConnection, make_transfer: Callable, make_account: Callable
) -> None:
    make_account(synced, "300000000042", "Subsidiary <b>GmbH</b>")
    make_transfer(synced, name="<script>alert(1)</script>", source_account_id="300000000042")
    personas.login(client, "viewer")
    html = body(client.get(reverse("transfer_list")))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Subsidiary &lt;b&gt;GmbH&lt;/b&gt;" in html
    assert "Acme payer" in html  # the payer named from its connection


def test_handshake_list_escapes_hostile_counterparty(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    make_handshake(synced, counterparty='"><img src=x onerror=alert(1)>')
    personas.login(client, "viewer")
    html = body(client.get(reverse("handshake_list")))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_transfer_detail_shows_every_field_the_handshake_and_the_timeline(
    client: Client, personas: Personas, synced: AwsConnection, make_transfer: Callable, make_handshake: Callable
) -> None:
    start = datetime(2025, 7, 1, tzinfo=UTC)
    transfer = make_transfer(
        synced,
        name="Acme EU billing",
        status="ACCEPTED",
        start_at=start,
        active_handshake_id="h-00000000abcd",
        arn="arn:aws:organizations::111111111111:transfer/o-abc/rt-1",
    )
    handshake = make_handshake(
        synced, handshake_id="h-00000000abcd", action="TRANSFER_RESPONSIBILITY", transfer_id=transfer.transfer_id
    )
    transfer_change(transfer, "created", {"status": "REQUESTED", "name": "Acme EU billing"})
    transfer_change(transfer, "changed", {"status": ["REQUESTED", "ACCEPTED"]})
    personas.login(client, "viewer")
    html = body(client.get(reverse("transfer_detail", args=[transfer.pk])))
    for text in (
        transfer.transfer_id,
        "Acme EU billing",
        transfer.arn,
        "BILLING",
        "ACCEPTED",
        transfer.source_account_id,
        transfer.source_email,
    ):
        assert text in html
    # UTC in the HTML, machine-readable for time.js to add the reader's zone.
    assert '<time datetime="2025-07-01T00:00:00+00:00" data-local>2025-07-01 00:00 UTC</time>' in html
    assert reverse("handshake_detail", args=[handshake.pk]) in html
    assert re.search(r"REQUESTED</span>\s*→\s*ACCEPTED", html)
    assert "First seen" in html


def test_handshake_detail_renders_parties_and_the_nested_resources_tree(
    client: Client,
    personas: Personas,
    synced: AwsConnection,
    make_handshake: Callable,
    make_transfer: Callable,
    make_account: Callable,
) -> None:
    transfer = make_transfer(synced, transfer_id="rt-00000000beef")
    make_account(synced, "222222222222", "Payer & Co")
    handshake = make_handshake(
        synced,
        action="TRANSFER_RESPONSIBILITY",
        transfer_id="rt-00000000beef",
        parties=[{"Id": "222222222222", "Type": "ACCOUNT"}, {"Id": "abc123", "Type": "ORGANIZATION"}],
        resources=[
            {
                "Type": "RESPONSIBILITY_TRANSFER",
                "Value": "rt-00000000beef",
                "Resources": [
                    {
                        "Type": "NOTES",
                        "Value": "<script>nested</script>",
                        "Resources": [{"Type": "EMAIL", "Value": "deep@example.com"}],
                    }
                ],
            }
        ],
    )
    handshake_change(handshake, "changed", {"state": ["REQUESTED", "OPEN"]})
    personas.login(client, "viewer")
    html = body(client.get(reverse("handshake_detail", args=[handshake.pk])))
    assert "Payer &amp; Co" in html and "abc123" in html
    assert "&lt;script&gt;nested&lt;/script&gt;" in html and "<script>nested" not in html
    assert html.index("RESPONSIBILITY_TRANSFER") < html.index("NOTES") < html.index("deep@example.com")
    assert html.count('<ul class="tree">') == 1 and html.count("<ul>") >= 2  # nested lists
    assert reverse("transfer_detail", args=[transfer.pk]) in html
    assert re.search(r"REQUESTED</span>\s*→\s*OPEN", html)


def test_details_keep_a_place_for_actions(
    client: Client, personas: Personas, synced: AwsConnection, make_transfer: Callable, make_handshake: Callable
) -> None:
    transfer, handshake = make_transfer(synced), make_handshake(synced)
    personas.login(client, "viewer")
    assert f'id="actions-transfer-{transfer.pk}"' in body(client.get(reverse("transfer_detail", args=[transfer.pk])))
    assert f'id="actions-handshake-{handshake.pk}"' in body(
        client.get(reverse("handshake_detail", args=[handshake.pk]))
    )


# --- freshness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_says_how_fresh_its_data_is(
    client: Client, personas: Personas, synced: AwsConnection, name: str
) -> None:
    personas.login(client, "viewer")
    html = body(client.get(reverse(name)))
    assert "synced" in html and "1\xa0minute ago" in html


@pytest.mark.parametrize("name", PAGES)
def test_stale_and_never_synced_data_is_flagged(
    client: Client, personas: Personas, connection: AwsConnection, name: str
) -> None:
    personas.login(client, "viewer")
    assert 'class="fresh never"' in body(client.get(reverse(name)))
    connection.last_synced_at = timezone.now() - timedelta(hours=3)
    connection.save()
    html = body(client.get(reverse(name)))
    assert 'class="fresh stale"' in html and "out of date" in html


def test_inbox_shows_each_connections_last_sync_result(
    client: Client, personas: Personas, synced: AwsConnection
) -> None:
    SyncRun.objects.create(
        connection=synced, status="failed", error="AccessDenied: <not allowed>", finished_at=timezone.now()
    )
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    assert "Failed" in html and "AccessDenied: &lt;not allowed&gt;" in html


# --- the inbox ---------------------------------------------------------------------------------


def test_inbox_lists_open_invitations_soonest_deadline_first(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    now = timezone.now()
    make_handshake(synced, handshake_id="h-00000000late", expires_at=now + timedelta(days=10))
    make_handshake(synced, handshake_id="h-00000000soon", expires_at=now + timedelta(days=2))
    # Expires late, but the transfer starts in 3 days: accept by start - 24 h = 2 days from now - 1 h.
    make_handshake(
        synced,
        handshake_id="h-0000000start",
        action="TRANSFER_RESPONSIBILITY",
        expires_at=now + timedelta(days=14),
        transfer_start_at=now + timedelta(days=3) - timedelta(hours=1),
    )
    make_handshake(synced, handshake_id="h-0000000close", state="ACCEPTED")
    make_handshake(synced, handshake_id="h-00000000sent", direction="sent")
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    answer = html[html.index("Waiting for an answer") : html.index("Sent, waiting")]
    assert answer.index("h-0000000start") < answer.index("h-00000000soon") < answer.index("h-00000000late")
    assert "accept by" in answer and "data-countdown" in answer
    assert "h-0000000close" not in html
    sent = html[html.index("Sent, waiting") :]
    assert "h-00000000sent" in sent


def test_inbox_counts_open_invitations_only_up_to_a_cap_so_a_million_rows_cost_no_more(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable, monkeypatch: Any
) -> None:
    # Counting every open invitation grew with the fleet (100,000 open rows: 30-85 ms a request on
    # PostgreSQL); past the cap the inbox says "3+" and counts no further.
    monkeypatch.setattr(selectors, "OPEN_COUNT_CAP", 3)
    monkeypatch.setattr(inbox, "INVITATIONS_SHOWN", 2)  # the cap is always above what is shown
    for _ in range(5):
        make_handshake(synced)
    make_handshake(synced, direction="sent")
    make_handshake(synced, direction="sent", state="REQUESTED")
    assert selectors.open_invitation_counts(connection_ids=[synced.pk]) == {"received": 4, "sent": 2}
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    assert "Waiting for an answer (3+)" in html and "All 3+ open" in html
    assert "Sent, waiting for the other side (2)" in html


def test_inbox_shows_recent_changes_newest_first(
    client: Client, personas: Personas, synced: AwsConnection, make_transfer: Callable, make_handshake: Callable
) -> None:
    now = timezone.now()
    transfer = make_transfer(synced, name="Older transfer change")
    handshake = make_handshake(synced, handshake_id="h-0000000newer")
    transfer_change(transfer, "changed", {"status": ["REQUESTED", "ACCEPTED"]}, observed_at=now - timedelta(hours=1))
    handshake_change(handshake, "changed", {"state": ["OPEN", "ACCEPTED"]}, observed_at=now)
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    changes = html[html.index("Recent changes") :]
    assert changes.index("h-0000000newer") < changes.index("Older transfer change")


def test_inbox_empty_states_explain_what_to_do(client: Client, personas: Personas, synced: AwsConnection) -> None:
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    assert "Nothing waits for your answer." in html and "No changes observed yet." in html
    personas.login(client, "outsider")
    html = body(client.get(reverse("inbox")))
    assert "You have no AWS connection yet." in html


def test_inbox_keeps_the_policies_section(client: Client, personas: Personas, synced: AwsConnection) -> None:
    personas.login(client, "viewer")
    response = client.get(reverse("inbox"))
    assert "policies/_inbox_invalid_policies.html" in [t.name for t in response.templates]


# --- empty lists -------------------------------------------------------------------------------


def test_empty_lists_explain_what_to_do(client: Client, personas: Personas, synced: AwsConnection) -> None:
    personas.login(client, "viewer")
    assert "No billing transfers." in body(client.get(reverse("transfer_list")))
    assert "No handshakes." in body(client.get(reverse("handshake_list")))
    assert "No billing transfer matches these filters." in body(
        client.get(reverse("transfer_list"), {"status": "DECLINED"})
    )
    personas.login(client, "outsider")
    assert "No AWS connection yet." in body(client.get(reverse("transfer_list")))


# --- nav ---------------------------------------------------------------------------------------


def test_nav_links_every_area_and_audit_only_for_auditors(
    client: Client, personas: Personas, synced: AwsConnection
) -> None:
    personas.login(client, "viewer")
    html = body(client.get(reverse("inbox")))
    for name in ("transfer_list", "handshake_list", "connection_list"):
        assert f'href="{reverse(name)}"' in html
    assert f'href="{reverse("organization_home")}"' in html
    assert f'href="{reverse("audit:events")}"' not in html
    personas.login(client, "auditor")
    assert f'href="{reverse("audit:events")}"' in body(client.get(reverse("inbox")))


def test_nav_shows_users_only_to_admins(client: Client, personas: Personas, synced: AwsConnection) -> None:
    personas.login(client, "operator")
    assert f'href="{reverse("users")}"' not in body(client.get(reverse("inbox")))
    personas.login(client, "admin")
    assert f'href="{reverse("users")}"' in body(client.get(reverse("inbox")))


def test_every_handshake_action_of_the_model_reads_as_words() -> None:
    import botocore.session

    from handshakes.models import Handshake

    model = botocore.session.get_session().get_service_model("organizations")
    for action in model.shape_for("ActionType").enum:
        label = Handshake(action=action).action_label
        assert label and "_" not in label, (action, label)
    assert Handshake(action="TRANSFER_RESPONSIBILITY").action_label == "Billing transfer"
    assert Handshake(action="SOME_FUTURE_ACTION").action_label == "Some future action"
