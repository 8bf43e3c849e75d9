"""Verifying the audit trail: walk the hash chain in id order and name the first row that breaks it.

Streams the table in keyset-ordered chunks of plain tuples, so memory stays flat at any size.
What each break means:

- a row whose stored hash is not the hash of its content: that row was **edited**;
- a row whose ``prev_hash`` is the hash of some other, earlier row: it was **inserted out of
  order** (or moved);
- a row linking to nothing, while the row after it links to the row before it: it was
  **inserted**;
- a row linking to nothing else: the rows between it and the row before it were **deleted**, or,
  with no id in between, the row before it was edited and its hash recomputed;
- the chain ending before (or after) the row the chain head names: rows were **deleted** from
  (or **inserted** at) the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections

from . import guard
from .models import GENESIS_HASH, HASHED_FIELDS, AuditChainHead, AuditEvent, compute_hash

_COLUMNS = ("id", "prev_hash", "hash", *HASHED_FIELDS)


@dataclass(frozen=True)
class Problem:
    row_id: int | None
    kind: str  # edited, deleted, inserted, out_of_order, guard_missing, head_missing
    message: str


@dataclass(frozen=True)
class Report:
    checked: int
    last_id: int | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(using: str, upto: int | None, chunk_size: int) -> Any:
    after = 0
    while True:
        query = AuditEvent.objects.using(using).filter(id__gt=after).order_by("id")
        if upto is not None:
            query = query.filter(id__lte=upto)
        chunk = list(query.values_list(*_COLUMNS)[:chunk_size])
        if not chunk:
            return
        yield from chunk
        after = chunk[-1][0]


def _broken_link(using: str, row_id: int, row_prev: str, prev_id: int | None, prev_hash: str) -> Problem:
    events = AuditEvent.objects.using(using)
    linked_to = events.filter(hash=row_prev).values_list("id", flat=True).first()
    if linked_to is not None or (row_prev == GENESIS_HASH and prev_id is not None):
        follows = f"row {linked_to}" if linked_to is not None else "the start of the chain"
        return Problem(
            row_id,
            "out_of_order",
            f"Row {row_id} was inserted out of order: it links to {follows}, but comes after row {prev_id}.",
        )
    next_prev = events.filter(id__gt=row_id).order_by("id").values_list("prev_hash", flat=True).first()
    if next_prev is not None and next_prev == prev_hash:
        return Problem(
            row_id,
            "inserted",
            f"Row {row_id} was inserted: it links to no row, and the row after it links to row {prev_id}.",
        )
    if prev_id is not None and row_id == prev_id + 1:
        return Problem(
            prev_id,
            "edited",
            f"Row {prev_id} was edited and its hash recomputed: row {row_id} links to a different version of it.",
        )
    if prev_id is None:
        return Problem(row_id, "deleted", f"Rows before row {row_id} were deleted: it links to a row that is gone.")
    return Problem(
        row_id,
        "deleted",
        f"Rows between row {prev_id} and row {row_id} were deleted: row {row_id} links to a row that is gone.",
    )


def verify_chain(*, using: str = "default", chunk_size: int = 5000) -> Report:
    """Walk the chain up to the head as it is now; report the first break, or none."""
    head = AuditChainHead.objects.using(using).filter(pk=1).first()
    upto = head.last_id if head is not None else None
    checked = 0
    prev_id: int | None = None
    prev_hash = GENESIS_HASH
    prev_time = None
    for values in _rows(using, upto, chunk_size):
        row_id, row_prev, row_hash = values[0], values[1], values[2]
        content = dict(zip(HASHED_FIELDS, values[3:], strict=True))
        if compute_hash(content, row_prev) != row_hash:
            return Report(
                checked,
                prev_id,
                Problem(row_id, "edited", f"Row {row_id} was edited: its hash no longer matches its content."),
            )
        if row_prev != prev_hash:
            return Report(checked, prev_id, _broken_link(using, row_id, row_prev, prev_id, prev_hash))
        if prev_time is not None and content["time"] < prev_time:
            return Report(
                checked,
                prev_id,
                Problem(
                    row_id, "out_of_order", f"Row {row_id} was inserted out of order: it is dated before row {prev_id}."
                ),
            )
        checked += 1
        prev_id, prev_hash, prev_time = row_id, row_hash, content["time"]

    events = AuditEvent.objects.using(using)
    if head is None:
        if prev_id is not None:
            return Report(checked, prev_id, Problem(None, "head_missing", "The chain head row is missing."))
    elif (prev_id, prev_hash) != (head.last_id, head.last_hash):
        if head.last_id is not None and (prev_id is None or prev_id < head.last_id):
            after = f"after row {prev_id}" if prev_id is not None else "from the start"
            return Report(
                checked,
                prev_id,
                Problem(
                    prev_id,
                    "deleted",
                    f"Rows {after} were deleted: the chain head says the last row is {head.last_id}.",
                ),
            )
        return Report(
            checked,
            prev_id,
            Problem(prev_id, "edited", f"Row {prev_id} was edited and its hash recomputed: the chain head disagrees."),
        )
    # Rows past the head as it is now were not written by record(), which moves the head with them.
    latest = AuditChainHead.objects.using(using).filter(pk=1).values_list("last_id", flat=True).first()
    stray = events.filter(id__gt=latest or 0).order_by("id").values_list("id", flat=True).first()
    if stray is not None:
        return Report(
            checked,
            prev_id,
            Problem(stray, "inserted", f"Row {stray} was inserted after the end of the chain, not through record()."),
        )
    if not guard.installed(connections[using]):
        return Report(
            checked,
            prev_id,
            Problem(None, "guard_missing", "The triggers that refuse UPDATE and DELETE on audit events are missing."),
        )
    return Report(checked, prev_id, None)
