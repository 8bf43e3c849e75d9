"""`record()` stores any details: NUL bytes, lone surrogates and invalid UTF-8 become visible
escapes instead of breaking the INSERT (PostgreSQL refuses NUL in text and JSON) or the hash."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from audit.events import record, safe_text
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

HOSTILE = "a\x00b\udc80c\ud800"


def test_hostile_text_is_escaped_visibly():
    assert safe_text("a\x00b") == "a\\x00b"
    assert safe_text("\udc80") == "\\udc80"
    assert safe_text(b"ok\xff\xfe") == "ok\\xff\\xfe"
    assert safe_text("Zürich ✓ 東京") == "Zürich ✓ 東京"


def test_an_event_with_nul_bytes_surrogates_and_invalid_utf8_is_stored_and_verifies(db):
    request = RequestFactory().get("/x", HTTP_USER_AGENT="agent\x00")
    event = record(
        action="export",
        actor_label="evil\x00name",
        request=request,
        resource=HOSTILE,
        params={"q": [HOSTILE], "raw": b"\xff\x00", "key\x00": "v", "nested": {"x": "\ud83d"}},
        error=HOSTILE,
    )
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.resource == "a\\x00b\\udc80c\\ud800" == row.error
    assert row.actor_label == "evil\\x00name"
    assert row.user_agent == "agent\\x00"
    assert row.params == {
        "q": ["a\\x00b\\udc80c\\ud800"],
        "raw": "\\xff\\x00",
        "key\\x00": "v",
        "nested": {"x": "\\ud83d"},
    }
    assert row.hash == row.expected_hash()
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith("OK: 1 audit rows verified")


def test_an_export_with_hostile_query_parameters_is_refused_at_the_door_and_records_nothing(client, personas):
    # Every query parameter of a list export is copied into its audit row: hostile bytes never get
    # that far (a 400 saying what was wrong), and record() itself escapes them if they ever did
    # (the test above).
    personas.login(client, "auditor")
    response = client.get("/transfers/export.csv?junk%00=x%00y&junk%00=%ff")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="export").exists()
