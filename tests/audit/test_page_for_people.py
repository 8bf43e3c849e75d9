"""The audit page as an auditor reads it: people's actions apart from AWS/sync rows, the action
picked from the actions the trail holds, details as key/value lines (not Python dict text)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from audit.events import record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_action_list():
    cache.delete("audit:recorded-actions")


@pytest.fixture
def trail(personas):
    c = personas.connection
    record(
        action="handshake.changed",
        actor_label="AWS",
        connection=c,
        resource="handshake/h-1",
        params={"changes": {"state": ["OPEN", "ACCEPTED"], "end_at": [None, "2026-07-31T23:59:59Z"]}},
    )
    record(action="handshake_accept", actor=personas.approver, connection=c, resource="h-1", params={"note": "ok"})
    record(
        action="export",
        actor=personas.viewer,
        connection=c,
        resource="x.csv",
        params={"status": ["ACCEPTED", "DECLINED"]},
    )


def ids(html):
    return re.findall(r'<tr data-id="(\d+)">', html)


def test_people_apart_from_aws_and_sync_rows(client, personas, trail):
    personas.login(client, "auditor")
    people = client.get("/audit/", {"source": "people"}).content.decode()
    automatic = client.get("/audit/", {"source": "automatic"}).content.decode()
    assert "handshake_accept" in people and "handshake.changed" not in people.split("<tbody>")[1]
    assert "handshake.changed" in automatic.split("<tbody>")[1] and len(ids(automatic)) == 1
    assert len(ids(people)) == 2


def test_the_action_is_picked_from_the_recorded_actions(client, personas, trail):
    personas.login(client, "auditor")
    html = client.get("/audit/").content.decode()
    assert '<select name="action"' in html
    for action in ("handshake_accept", "handshake.changed", "export"):
        assert f'<option value="{action}"' in html
    assert 'value="handshake_accept">Handshake accept</option>' in html
    picked = client.get("/audit/", {"action": "handshake_accept"}).content.decode()
    assert len(ids(picked)) == 1


def test_details_read_as_key_and_value(client, personas, trail):
    personas.login(client, "auditor")
    html = client.get("/audit/").content.decode()
    assert "<dt>state</dt><dd>OPEN → ACCEPTED</dd>" in html
    assert "<dt>end_at</dt><dd>(empty) → 2026-07-31T23:59:59Z</dd>" in html
    assert "<dt>status</dt><dd>ACCEPTED, DECLINED</dd>" in html
    assert "{&#x27;" not in html and "{'" not in html
