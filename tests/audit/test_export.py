"""CSV exports: streamed, formula-safe, honouring the filters and who may read what, audited; the
database's CSV (PostgreSQL) byte for byte the Python writer's; and `export_audit`."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse

from audit.csv import copy_csv, csv_chunks, is_formula, neutralize
from audit.events import record
from audit.models import AuditEvent
from audit.selectors import EXPORT_HEADER, export_csv, export_rows
from tests.audit.test_csv_writer import reference

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
        + "\n"
    )
    rest = b"".join(chunks).decode()
    assert rest.count("\n") == 4  # three events and the export itself


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
    assert chunks[0] == "n,text\n"
    assert len(chunks) > 5
    assert all(len(chunk) < 64 * 1024 + 600 * 110 for chunk in chunks)
    assert sum(chunk.count("\n") for chunk in chunks) == 5001


def test_export_audit_command_writes_the_range_to_stdout(trail):
    out = io.StringIO()
    call_command("export_audit", "--since", "2000-01-01", "--until", "2999-01-01T00:00:00Z", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["action"] for row in rows] == ["handshake_accept", "handshake_decline", "rename", "export"]
    out = io.StringIO()
    call_command("export_audit", "--until", "2000-01-01", stdout=out)
    assert out.getvalue().startswith("id,time,actor,") and out.getvalue().count("\n") == 1


AWKWARD_TEXTS = [
    "plain",
    "a,b",
    'say "hi"',
    "two\nlines",
    "carriage\rreturn",
    "crlf\r\nend",
    "=1+1",
    "+1",
    "-2",
    "@SUM(A1)",
    "\tTab",
    "\rCR first",
    "'already quoted",
    " ",
    "",
    "Zürich ünïcode 東京 ✓",
    '=HYPERLINK("http://x","y"),\n',
    "  =1+1",
    "\u00a0=1+1",
    "\u3000+1",
    "\ufeff@SUM(A1)",
    "\n-2",
    "\uff1d1+1",
    "\uff0b1",
    "\u00a0plain",
]


@pytest.fixture
def awkward(personas):
    """Events whose every text cell is something a CSV writer can get wrong, written as they are
    (inserts need no valid hash chain), with None and negative integers in the integer columns."""
    for n, text in enumerate(AWKWARD_TEXTS):
        AuditEvent.objects.create(
            actor_id=None if n % 2 else -n,
            actor_label=text[:150],
            roles=[text, "auditor"] if n % 3 else [],
            ip=text[:45],
            user_agent=text,
            connection_id=personas.connection.pk if n % 2 else None,
            connection_label=text,
            resource=text,
            action=text[:64] or "x",
            params={"text": text, "n": n, "nested": [1.5, None, True, {"ü": text}]} if n % 4 else {},
            outcome=text[:8],
            aws_request_id=text,
            error=text,
            prev_hash=text[:64],
            hash=f"hash-{n}",
        )


def test_the_export_is_the_python_writers_csv_of_the_same_rows_byte_for_byte(awkward):
    # On PostgreSQL the database writes the CSV; elsewhere the Python writer does. Either way the
    # bytes are the csv module's (LF-ended) for the rows the database gives as text.
    events = AuditEvent.objects.all()
    rows = list(export_rows(events))
    assert len(rows) == len(AWKWARD_TEXTS)
    exported = b"".join(export_csv(events))
    assert exported == "".join(csv_chunks(EXPORT_HEADER, rows)).encode()
    assert exported == reference(EXPORT_HEADER, rows).encode()
    parsed = list(csv.DictReader(io.StringIO(exported.decode())))
    assert [row["resource"] for row in parsed] == ["'" + text if is_formula(text) else text for text in AWKWARD_TEXTS]
    assert parsed[0]["actor_id"] == "0" and parsed[2]["actor_id"] == "-2" and parsed[1]["actor_id"] == ""
    # JSON cells are the database's text in plain UTF-8 (SQLite's \\u escapes spelled out).
    assert "Zürich ünïcode 東京 ✓" in parsed[15]["params"] and "\\u" not in parsed[15]["params"]


def test_an_auditor_exports_only_their_connections_events_and_those_of_no_connection(client, personas, make_connection):
    other = make_connection(name="Globex payer")
    record(action="handshake_accept", actor=personas.approver, connection=personas.connection, resource="h-ours")
    record(action="handshake_accept", actor_label="system", connection=other, resource="h-theirs")
    record(action="login", actor=personas.viewer, resource="sign-in")
    personas.login(client, "auditor")
    resources = [row["resource"] for row in parse(client.get("/audit/export.csv"))]
    assert "h-ours" in resources and "sign-in" in resources and "h-theirs" not in resources


def test_the_database_writes_only_text_and_integer_columns():
    with pytest.raises(ValueError, match="DateTimeField"):
        list(copy_csv(["id", "time"], AuditEvent.objects.order_by("id").values_list("id", "time")))
