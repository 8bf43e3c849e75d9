"""A database writer cannot forge the trail unnoticed.

Each forgery below used to pass `audit_verify`: the rows' hashes had no key, and the chain head
was an unguarded row. Now every row's hash is an HMAC under a key that is not in the database,
the chain head only moves forward to a row that exists, and signed checkpoints published outside
the database pin the chain's head at regular moments. Each test tampers as a writer with direct
SQL access would (dropping the guard triggers where it needs to), then expects `audit_verify` to
name the exact row or checkpoint.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit import guard
from audit.events import record, record_many
from audit.models import AuditChainHead, AuditEvent, compute_hash

pytestmark = pytest.mark.django_db


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out, chunk_size=3)
    return out.getvalue()


def failure() -> str:
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    return str(caught.value)


def checkpoint() -> str:
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    return out.getvalue()


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.fixture
def trail() -> list[int]:
    record(action="login", actor_label="system")
    record_many([{"action": "observed_change", "actor_label": "AWS", "params": {"n": n}} for n in range(6)])
    record(action="handshake_accept", actor_label="system", params={"HandshakeId": "h-1"})
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def append_unkeyed(prev: AuditEvent, **fields: object) -> AuditEvent:
    """What a database writer can append: a row whose hash is computed the way the code computes
    it, but without the audit key, which the writer does not have."""
    event = AuditEvent(action="forged", actor_label="mallory", time=prev.time, prev_hash=prev.hash, **fields)
    event.hash = compute_hash(event.content(), event.prev_hash)
    event.save(force_insert=True)
    return event


def test_a_checkpoint_is_a_signed_line_in_a_file_outside_the_database(trail, checkpoint_dir):
    assert "Checkpoint 1: row" in checkpoint()
    lines = (checkpoint_dir / "checkpoints.jsonl").read_text().splitlines()
    assert len(lines) == 1
    signed = json.loads(lines[0])
    last = AuditEvent.objects.get(pk=trail[-1])
    assert (signed["seq"], signed["hash"]) == (last.pk, last.hash)
    assert signed["signature"] and signed["key_id"]
    assert verify().startswith("OK: 8 audit rows verified")
    assert "1 signed checkpoint" in verify()


def test_every_row_hash_is_keyed(trail):
    row = AuditEvent.objects.get(pk=trail[3])
    assert row.key_id
    # The plain SHA-256 a writer could compute is not the row's hash.
    assert compute_hash(row.content(), row.prev_hash) != row.hash
    assert row.expected_hash() == row.hash


def test_forgery_a_deleting_the_tail_and_moving_the_head_back_is_named(trail):
    checkpoint()
    guard.remove(connection)
    kept = AuditEvent.objects.get(pk=trail[4])
    sql("DELETE FROM audit_auditevent WHERE id > %s", [kept.pk])
    sql("UPDATE audit_auditchainhead SET last_id = %s, last_hash = %s", [kept.pk, kept.hash])
    guard.install(connection)
    message = failure()
    assert f"Rows after row {kept.pk} were deleted" in message
    assert f"signed checkpoint 1 names row {trail[-1]}" in message


def test_forgery_b_appending_a_row_with_a_valid_plain_hash_and_moving_the_head_is_named(trail):
    checkpoint()
    last = AuditEvent.objects.get(pk=trail[-1])
    forged = append_unkeyed(last)
    # The guard lets the head move forward to a row that exists with that hash: no trigger to drop.
    sql("UPDATE audit_auditchainhead SET last_id = %s, last_hash = %s", [forged.pk, forged.hash])
    assert f"Row {forged.pk} has an unkeyed hash after keyed rows" in failure()


def test_forgery_b_with_a_made_up_key_id_is_named(trail):
    last = AuditEvent.objects.get(pk=trail[-1])
    forged = append_unkeyed(last, key_id=last.key_id)
    sql("UPDATE audit_auditchainhead SET last_id = %s, last_hash = %s", [forged.pk, forged.hash])
    assert f"Row {forged.pk} was edited, or written without the audit key" in failure()


def test_forgery_c_editing_a_row_and_rehashing_every_row_after_it_is_named_at_the_row(trail):
    checkpoint()
    guard.remove(connection)
    prev_hash = AuditEvent.objects.get(pk=trail[2]).hash
    for row in AuditEvent.objects.filter(id__gte=trail[3]).order_by("id"):
        if row.pk == trail[3]:
            row.outcome = "denied"
        row.prev_hash = prev_hash
        row.key_id = None
        row.hash = compute_hash(row.content(), prev_hash)
        sql(
            "UPDATE audit_auditevent SET outcome = %s, prev_hash = %s, hash = %s, key_id = NULL WHERE id = %s",
            [row.outcome, row.prev_hash, row.hash, row.pk],
        )
        prev_hash = row.hash
    sql("UPDATE audit_auditchainhead SET last_hash = %s", [prev_hash])
    guard.install(connection)
    assert f"Row {trail[3]} has an unkeyed hash after keyed rows" in failure()


def test_forgery_c_on_rows_from_before_keys_is_named_by_the_checkpoint(trail):
    """Rows written before the trail had a key carry plain hashes; a writer can rehash them. The
    signed checkpoint names the rewrite, between the last row it still confirms and its own row."""
    guard.remove(connection)
    prev_hash = "0" * 64
    for row in AuditEvent.objects.order_by("id"):
        row.key_id = None
        row.prev_hash = prev_hash
        row.hash = compute_hash(row.content(), prev_hash)
        sql(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s, key_id = NULL WHERE id = %s",
            [row.prev_hash, row.hash, row.pk],
        )
        prev_hash = row.hash
    sql("UPDATE audit_auditchainhead SET last_hash = %s", [prev_hash])
    guard.install(connection)
    assert verify().startswith("OK: 8")  # a legacy, unkeyed chain still verifies
    checkpoint()
    guard.remove(connection)
    edited = AuditEvent.objects.get(pk=trail[5])
    edited.outcome = "denied"
    prev_hash = AuditEvent.objects.get(pk=trail[4]).hash
    for row in AuditEvent.objects.filter(id__gte=trail[5]).order_by("id"):
        row.outcome = edited.outcome if row.pk == edited.pk else row.outcome
        row.prev_hash = prev_hash
        row.hash = compute_hash(row.content(), prev_hash)
        sql(
            "UPDATE audit_auditevent SET outcome = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [row.outcome, row.prev_hash, row.hash, row.pk],
        )
        prev_hash = row.hash
    sql("UPDATE audit_auditchainhead SET last_hash = %s", [prev_hash])
    guard.install(connection)
    message = failure()
    assert f"Row {trail[-1]} is not the row signed checkpoint 1 names" in message
    assert "rows up to it were rewritten" in message


def test_the_chain_head_only_moves_forward_to_a_row_that_exists(trail):
    last = AuditEvent.objects.get(pk=trail[-1])
    earlier = AuditEvent.objects.get(pk=trail[2])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditChainHead.objects.filter(pk=1).update(last_id=earlier.pk, last_hash=earlier.hash)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditChainHead.objects.filter(pk=1).update(last_id=last.pk + 1, last_hash="f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditChainHead.objects.filter(pk=1).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditChainHead.objects.create(pk=2)
    head = AuditChainHead.objects.get()
    assert (head.last_id, head.last_hash) == (last.pk, last.hash)
    assert record(action="after").prev_hash == last.hash


def test_a_checkpoint_line_edited_in_the_file_is_named(trail, checkpoint_dir):
    checkpoint()
    path = checkpoint_dir / "checkpoints.jsonl"
    signed = json.loads(path.read_text())
    signed["seq"] = trail[2]
    path.write_text(json.dumps(signed) + "\n")
    assert "Checkpoint 1 has a bad signature" in failure()


def test_no_checkpoint_is_signed_over_a_broken_chain(trail, checkpoint_dir):
    guard.remove(connection)
    sql("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [trail[2]])
    with pytest.raises(CommandError, match=f"Row {trail[2]} was edited"):
        checkpoint()
    assert not (checkpoint_dir / "checkpoints.jsonl").exists()


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="replica mode and DISABLE TRIGGER exist on PostgreSQL only"
)


@needs_postgresql
def test_forgery_d_replica_mode_does_not_skip_the_guard(trail):
    sql("SET LOCAL session_replication_role = replica")
    with pytest.raises(IntegrityError), transaction.atomic():
        sql("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [trail[3]])
    with pytest.raises(IntegrityError), transaction.atomic():
        sql("UPDATE audit_auditchainhead SET last_id = %s", [trail[1]])
    sql("SET LOCAL session_replication_role = origin")
    assert verify().startswith("OK: 8")


@needs_postgresql
def test_forgery_d_an_update_with_triggers_disabled_by_the_owner_is_named(trail):
    sql("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    sql("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [trail[3]])
    assert f"Row {trail[3]} was edited, or written without the audit key" in failure()
