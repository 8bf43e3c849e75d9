"""`audit_verify` names the first row that was edited, deleted or inserted out of order.

Each test first drops the guard triggers (raw SQL, rolled back with the test's transaction), as
someone with direct database access would, then tampers. Forged rows here carry hashes made with
the audit key itself (a writer who also stole the key), so these tests reach the chain's links;
tests/audit/test_forgery.py covers the writer without it.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit import guard, keys
from audit.events import record, record_many
from audit.models import AuditEvent, compute_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail() -> list[int]:
    record(action="login", actor_label="system")
    record_many([{"action": "observed_change", "actor_label": "AWS", "params": {"n": n}} for n in range(4)])
    record(action="handshake_accept", actor_label="system", params={"HandshakeId": "h-1"})
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out, chunk_size=2)
    return out.getvalue()


def failure() -> str:
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    return str(caught.value)


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.fixture
def unguarded(trail: list[int]) -> list[int]:
    guard.remove(connection)
    return trail


def forge(**fields: object) -> AuditEvent:
    """A row inserted behind record()'s back (INSERT is allowed; the chain head is not moved)."""
    key = keys.current()
    event = AuditEvent(action="forged", actor_label="mallory", key_id=key.key_id, **fields)
    event.hash = compute_hash(event.content(), event.prev_hash, key.row_key)
    event.save(force_insert=True)
    return event


def test_untouched_trail_verifies(trail):
    assert verify() == f"OK: 6 audit rows verified, last row {trail[-1]}.\n"


def test_empty_trail_verifies(db):
    assert verify().startswith("OK: 0 audit rows verified")


def test_an_edited_row_is_named(unguarded):
    sql("UPDATE audit_auditevent SET params = %s WHERE id = %s", ['{"n": 99}', unguarded[2]])
    assert f"Row {unguarded[2]} was edited" in failure()


def test_an_edited_row_with_a_recomputed_hash_is_named(unguarded):
    row = AuditEvent.objects.get(pk=unguarded[2])
    row.outcome = "denied"
    new_hash = compute_hash(row.content(), row.prev_hash, keys.current().row_key)
    sql("UPDATE audit_auditevent SET outcome = 'denied', hash = %s WHERE id = %s", [new_hash, row.pk])
    assert f"Row {unguarded[2]} was edited and its hash recomputed" in failure()


def test_a_deleted_row_is_named_by_the_row_after_the_gap(unguarded):
    sql("DELETE FROM audit_auditevent WHERE id = %s", [unguarded[3]])
    message = failure()
    assert f"Rows between row {unguarded[2]} and row {unguarded[4]} were deleted" in message


def test_rows_deleted_from_the_end_are_noticed(unguarded):
    sql("DELETE FROM audit_auditevent WHERE id >= %s", [unguarded[4]])
    assert f"Rows after row {unguarded[3]} were deleted" in failure()


def test_a_row_inserted_out_of_order_is_named(trail):
    first = AuditEvent.objects.get(pk=trail[0])
    forged = forge(prev_hash=first.hash, time=first.time)
    record(action="logout", actor_label="system")
    assert f"Row {forged.pk} was inserted out of order: it links to row {trail[0]}" in failure()


def test_a_row_inserted_with_a_made_up_link_is_named(trail):
    forged = forge(prev_hash="f" * 64)
    record(action="logout", actor_label="system")
    assert f"Row {forged.pk} was inserted" in failure()


def test_a_row_appended_behind_records_back_is_named(trail):
    last = AuditEvent.objects.get(pk=trail[-1])
    forged = forge(prev_hash=last.hash)
    assert f"Row {forged.pk} was inserted after the end of the chain" in failure()


def test_missing_guard_fails_verification(unguarded):
    assert "triggers that refuse UPDATE and DELETE" in failure()
