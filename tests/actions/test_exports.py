"""CSV exports of transfers and handshakes: auditors only, the list's filters honoured, streamed
through the one writer, formula cells neutralized, and each export audited."""

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


@pytest.mark.parametrize("user", ["viewer", "approver", "operator", "admin"])
def test_exports_need_the_auditor_role(personas: Any, user: str) -> None:
    client = personas.login(Client(), user)
    assert client.get(reverse("transfer_export"), {"connection": personas.connection.pk}).status_code == 403
    assert client.get(reverse("handshake_export")).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_another_connection_is_a_404_even_for_an_auditor(personas: Any, make_connection: Any) -> None:
    other = make_connection(name="Elsewhere")
    client = personas.login(Client(), "auditor")
    assert client.get(reverse("transfer_export"), {"connection": other.pk}).status_code == 404
