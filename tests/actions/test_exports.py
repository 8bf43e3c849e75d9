"""CSV exports of transfers and handshakes: every role that sees the list, the list's filters and
order honoured, times with their zone, streamed through the one writer, formula cells
neutralized, and each export audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from handshakes.models import Handshake
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def test_auditor_exports_the_filtered_transfers_and_the_export_is_audited(personas: Any) -> None:
    connection = personas.connection
    ResponsibilityTransfer.objects.create(
        connection=connection, transfer_id="rt-aaaaaaaa", direction="inbound", name="=HYPERLINK(1)", status="ACCEPTED"
    )
    ResponsibilityTransfer.objects.create(
        connection=connection, transfer_id="rt-bbbbbbbb", direction="inbound", name="Declined one", status="DECLINED"
    )
    client = personas.login(Client(), "auditor")
    response = client.get(reverse("transfer_export"), {"status": "ACCEPTED", "connection": connection.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = _body(response)
    assert body.splitlines()[0].startswith("connection,transfer_id,name")
    assert "rt-aaaaaaaa" in body and "rt-bbbbbbbb" not in body
    assert "'=HYPERLINK(1)" in body
    event = AuditEvent.objects.get(action="export")
    assert event.params["status"] == ["ACCEPTED"] and event.actor_label == "audrey"


def test_auditor_exports_handshakes_by_state(personas: Any) -> None:
    connection = personas.connection
    Handshake.objects.create(
        connection=connection, handshake_id="h-aaaaaaaa", action="INVITE", state="OPEN", direction="sent"
    )
    Handshake.objects.create(
        connection=connection, handshake_id="h-bbbbbbbb", action="INVITE", state="ACCEPTED", direction="sent"
    )
    client = personas.login(Client(), "auditor")
    body = _body(client.get(reverse("handshake_export"), {"state": "ACCEPTED"}))
    assert "h-bbbbbbbb" in body and "h-aaaaaaaa" not in body


@pytest.mark.parametrize("user", ["viewer", "approver", "operator", "admin", "auditor"])
def test_every_role_that_sees_the_list_exports_it(personas: Any, user: str) -> None:
    ResponsibilityTransfer.objects.create(
        connection=personas.connection, transfer_id="rt-cccccccc", direction="inbound", status="ACCEPTED"
    )
    client = personas.login(Client(), user)
    response = client.get(reverse("transfer_export"), {"connection": personas.connection.pk})
    assert response.status_code == 200 and "rt-cccccccc" in _body(response)
    assert client.get(reverse("handshake_export")).status_code == 200
    assert "Export CSV" in client.get(reverse("transfer_list")).content.decode()
    assert AuditEvent.objects.filter(action="export").count() == 2


def test_a_user_without_a_role_cannot_export(personas: Any) -> None:
    client = personas.login(Client(), "outsider")
    assert client.get(reverse("transfer_export")).status_code == 403
    assert client.get(reverse("handshake_export")).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_times_carry_their_zone_and_follow_the_lists_sort(personas: Any) -> None:
    from datetime import UTC, datetime

    for n, month in enumerate([3, 1, 2]):
        ResponsibilityTransfer.objects.create(
            connection=personas.connection,
            transfer_id=f"rt-0000000{n}",
            direction="inbound",
            status="ACCEPTED",
            start_at=datetime(2026, month, 1, tzinfo=UTC),
        )
    client = personas.login(Client(), "viewer")
    lines = _body(client.get(reverse("transfer_export"), {"sort": "start"})).splitlines()[1:]
    assert [line.split(",")[1] for line in lines] == ["rt-00000001", "rt-00000002", "rt-00000000"]
    assert ",2026-01-01T00:00:00Z," in lines[0]
    lines = _body(client.get(reverse("transfer_export"), {"sort": "-start"})).splitlines()[1:]
    assert [line.split(",")[1] for line in lines] == ["rt-00000000", "rt-00000002", "rt-00000001"]


def test_another_connection_is_a_404_even_for_an_auditor(personas: Any, make_connection: Any) -> None:
    other = make_connection(name="Elsewhere")
    client = personas.login(Client(), "auditor")
    assert client.get(reverse("transfer_export"), {"connection": other.pk}).status_code == 404
