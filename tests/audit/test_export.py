"""CSV exports: streamed, formula-safe, honouring the filters, audited; and `export_audit`."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse

from audit.csv import csv_chunks, neutralize
from audit.events import record
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def parse(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def trail(personas):
    record(
        action="handshake_accept",
        actor=personas.approver,
        connection=personas.connection,
        resource="h-1",
        params={"notes": "=cmd|' /C calc'!A0"},
    )
    record(
        action="handshake_decline",
        actor=personas.approver,
        connection=personas.connection,
        resource="h-2",
        outcome="error",
        error="-2+3",
    )
    record(
        action="rename",
        actor=personas.admin,
        connection=personas.connection,
        resource="@SUM(A1)",
        params={"name": "Zürich ünïcode"},
    )


def test_export_streams_a_csv_with_a_header_row(client, personas, trail):
    personas.login(client, "auditor")
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    chunks = iter(response.streaming_content)
    # The header goes out before the query has run: the first byte does not wait for the rows.
    assert (
        next(chunks).decode()
        == ",".join(
            [
                "id",
                "time",
                "actor",
                "actor_id",
                "roles",
                "ip",
                "user_agent",
                "connection",
                "connection_id",
                "resource",
                "action",
                "outcome",
                "params",
                "aws_request_id",
                "error",
                "prev_hash",
                "hash",
            ]
        )
        + "\r\n"
    )
    rest = b"".join(chunks).decode()
    assert rest.count("\r\n") == 4  # three events and the export itself


def test_export_contains_the_events_oldest_first_in_utf8(client, personas, trail):
    personas.login(client, "auditor")
    rows = parse(client.get("/audit/export.csv"))
    assert [row["action"] for row in rows][:3] == ["handshake_accept", "handshake_decline", "rename"]
    assert "Zürich ünïcode" in rows[2]["params"]
    assert rows[0]["actor"] == "april" and rows[0]["connection"] == "Acme payer"


def test_formula_cells_are_neutralized(client, personas, trail):
    personas.login(client, "auditor")
    rows = parse(client.get("/audit/export.csv"))
    assert rows[1]["error"] == "'-2+3"
    assert rows[2]["resource"] == "'@SUM(A1)"
    assert neutralize(["=cmd|' /C calc'!A0", "+1", "\tx", "\rx", "plain", 5, None]) == [
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'\tx",
        "'\rx",
        "plain",
        5,
        None,
    ]


def test_export_honours_the_filters(client, personas, trail):
    personas.login(client, "auditor")
    rows = parse(client.get("/audit/export.csv", {"outcome": "error"}))
    assert [row["resource"] for row in rows] == ["h-2"]


def test_each_export_is_itself_audited_with_its_filters(client, personas, trail):
    personas.login(client, "auditor")
    parse(client.get("/audit/export.csv", {"outcome": "error", "action": "handshake_decline"}))
    event = AuditEvent.objects.filter(action="export").get()
    assert event.actor_label == "audrey"
    assert event.params == {"export": "audit", "outcome": "error", "action": "handshake_decline"}
    assert event.resource.startswith("audit-") and event.resource.endswith(".csv")


def test_non_auditors_cannot_export(client, personas, trail):
    personas.login(client, "admin")
    assert client.get("/audit/export.csv").status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_large_exports_come_in_chunks_of_about_64_kb():
    rows = ((n, "x" * 100) for n in range(5000))
    chunks = list(csv_chunks(["n", "text"], rows))
    assert chunks[0] == "n,text\r\n"
    assert len(chunks) > 5
    assert all(len(chunk) < 64 * 1024 + 600 * 110 for chunk in chunks)
    assert sum(chunk.count("\r\n") for chunk in chunks) == 5001


def test_export_audit_command_writes_the_range_to_stdout(trail):
    out = io.StringIO()
    call_command("export_audit", "--since", "2000-01-01", "--until", "2999-01-01T00:00:00Z", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["action"] for row in rows] == ["handshake_accept", "handshake_decline", "rename", "export"]
    out = io.StringIO()
    call_command("export_audit", "--until", "2000-01-01", stdout=out)
    assert out.getvalue().startswith("id,time,actor,") and out.getvalue().count("\r\n") == 1
