"""Formula injection: a cell a spreadsheet would run is led by a single quote, in the Python writer
and in PostgreSQL's COPY alike.

Spreadsheets trim leading spaces (LibreOffice's "trim spaces" option, Excel on paste) and read the
full-width operators as formulas too, so a cell is judged by its first character after any
leading whitespace or Unicode space (NBSP, U+3000, BOM, LF...).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from audit.csv import csv_chunks, neutralize
from audit.events import record
from audit.models import AuditEvent
from audit.selectors import EXPORT_HEADER, export_csv, export_rows
from handshakes.models import Handshake
from tests.audit.test_csv_writer import reference
from transfers.models import ResponsibilityTransfer

FORMULAS = [
    "  =1+1",
    " +1",
    "   -2",
    " @SUM(A1)",
    "\u00a0=1+1",
    "\u3000=1+1",
    "\ufeff=1+1",
    "\n=1+1",
    "\r\n=1+1",
    "\u2003\u00a0 =1",
    "\uff1d1+1",
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
    " \uff1dSUM(A1)",
    "\tplain",
    "\rplain",
]
HARMLESS = ["plain", " plain", "\u00a0plain", "a=1", "1-2", "", " ", "\u3000", "'=already", "x\n=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_behind_spaces_or_in_full_width_is_neutralized(text):
    assert neutralize([text]) == ["'" + text]


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_cells_are_left_alone(text):
    assert neutralize([text]) == [text]


def test_the_batch_writer_neutralizes_them_too():
    rows = [(n, text, "ok") for n, text in enumerate(FORMULAS + HARMLESS)]
    parsed = list(csv.reader(io.StringIO("".join(csv_chunks(["n", "text", "x"], rows)))))
    assert [row[1] for row in parsed[1:]] == ["'" + text for text in FORMULAS] + HARMLESS


@pytest.mark.django_db
def test_the_database_and_python_writers_neutralize_the_same_cells_byte_for_byte(db):
    for n, text in enumerate(FORMULAS + HARMLESS):
        record(action=f"a{n}", actor_label="system", resource=text, error=text)
    events = AuditEvent.objects.all()
    rows = list(export_rows(events))
    exported = b"".join(export_csv(events))  # COPY on PostgreSQL, the Python writer elsewhere
    assert exported == "".join(csv_chunks(EXPORT_HEADER, rows)).encode()
    assert exported == reference(EXPORT_HEADER, rows).encode()
    parsed = list(csv.DictReader(io.StringIO(exported.decode())))
    assert [row["resource"] for row in parsed] == ["'" + text for text in FORMULAS] + HARMLESS
    assert [row["error"] for row in parsed] == ["'" + text for text in FORMULAS] + HARMLESS


@pytest.mark.django_db
def test_transfer_and_handshake_exports_neutralize_them_with_the_same_rule(personas):
    for n, text in enumerate(["\u00a0=cmd|' /C calc'!A0", "\uff1d1+1", " plain"]):
        ResponsibilityTransfer.objects.create(
            connection=personas.connection, transfer_id=f"rt-{n:08d}", direction="inbound", name=text, status="ACCEPTED"
        )
        Handshake.objects.create(
            connection=personas.connection,
            handshake_id=f"h-{n:08d}",
            action="INVITE",
            state="OPEN",
            direction="sent",
            counterparty=text,
        )
    client = personas.login(Client(), "auditor")
    transfers = csv.DictReader(io.StringIO(b"".join(client.get(reverse("transfer_export")).streaming_content).decode()))
    # In the list's order (newest first by default); the cells are what matters here.
    assert sorted(row["name"] for row in transfers) == sorted(["'\u00a0=cmd|' /C calc'!A0", "'\uff1d1+1", " plain"])
    handshakes = csv.DictReader(
        io.StringIO(b"".join(client.get(reverse("handshake_export")).streaming_content).decode())
    )
    assert sorted(row["counterparty"] for row in handshakes) == sorted(
        ["'\u00a0=cmd|' /C calc'!A0", "'\uff1d1+1", " plain"]
    )
