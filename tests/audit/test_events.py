"""Recording events: one row per call, the expected fields, secrets redacted, a chain that links."""

from __future__ import annotations

import itertools

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory

from audit.events import REDACTED, record, record_many
from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from orgportal.models import Role

pytestmark = pytest.mark.django_db


def test_recording_an_action_writes_exactly_one_row_with_the_expected_fields(personas):
    request = RequestFactory().post("/x", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")
    request.user = personas.approver

    event = record(
        action="handshake_accept",
        request=request,
        connection=personas.connection,
        resource="h-abc123",
        params={"HandshakeId": "h-abc123", "notes": "ok"},
        outcome="ok",
        aws_request_id="req-1",
    )

    assert AuditEvent.objects.count() == 1
    row = AuditEvent.objects.get()
    assert row.pk == event.pk
    assert row.actor_id == personas.approver.pk
    assert row.actor_label == "april"
    assert row.roles == [Role.APPROVER, Role.VIEWER]
    assert row.ip == "203.0.113.7"
    assert row.user_agent == "Firefox/140"
    assert row.connection_id == personas.connection.pk
    assert row.connection_label == "Acme payer"
    assert (row.resource, row.action, row.outcome, row.aws_request_id, row.error) == (
        "h-abc123",
        "handshake_accept",
        "ok",
        "req-1",
        "",
    )
    assert row.params == {"HandshakeId": "h-abc123", "notes": "ok"}
    assert row.prev_hash == GENESIS_HASH
    assert row.hash == row.expected_hash()


def test_secrets_in_params_never_reach_the_trail(db):
    record(
        action="connection_update",
        actor_label="system",
        params={
            "password": "hunter2",
            "secret_access_key": "abc",
            "SessionToken": "t",
            "nested": {"api_key": "k", "items": [{"ExternalId": "e", "Key": "team", "Value": "finance"}]},
            "name": "visible",
        },
    )
    params = AuditEvent.objects.get().params
    assert params["password"] == REDACTED
    assert params["secret_access_key"] == REDACTED
    assert params["SessionToken"] == REDACTED
    assert params["nested"]["api_key"] == REDACTED
    assert params["nested"]["items"] == [{"ExternalId": REDACTED, "Key": "team", "Value": "finance"}]
    assert params["name"] == "visible"


def test_aws_and_system_events_carry_their_label_and_no_user(db):
    event = record(action="sync", actor_label="AWS", outcome="ok")
    assert (event.actor_id, event.actor_label, event.roles) == (None, "AWS", [])
    assert record(action="sync").actor_label == "system"


def test_each_row_links_to_the_one_before_and_the_head_follows(db):
    first = record(action="a")
    batch = record_many([{"action": "b", "actor_label": "AWS", "params": {"n": n}} for n in range(5)])
    last = record(action="c")

    rows = list(AuditEvent.objects.order_by("id"))
    assert [r.action for r in rows] == ["a", "b", "b", "b", "b", "b", "c"]
    assert rows[0].pk == first.pk and rows[-1].pk == last.pk
    assert all(r.pk is not None for r in batch)
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.hash == after.expected_hash()
        assert after.time >= before.time
    head = AuditChainHead.objects.get(pk=1)
    assert (head.last_id, head.last_hash) == (last.pk, last.hash)


def test_an_event_rolls_back_with_the_change_it_records(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="doomed")
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()
    assert record(action="next").prev_hash == GENESIS_HASH


def test_unknown_outcome_is_refused(db):
    with pytest.raises(ValueError):
        record(action="x", outcome="maybe")


def test_database_refuses_update_and_delete_of_audit_rows(db):
    event = record(action="login", actor_label="system")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET error = 'x'")
    if connection.vendor == "postgresql":  # SQLite has no TRUNCATE
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.get().action == "login"


@pytest.mark.django_db(transaction=True)
def test_test_flush_empties_the_trail_and_puts_the_guard_back():
    from django.core.management import call_command

    from audit import guard

    record(action="login")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    assert guard.installed(connection)
    assert record(action="after").prev_hash == GENESIS_HASH
