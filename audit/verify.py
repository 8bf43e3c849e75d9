"""Verifying the audit trail: walk the hash chain in id order and name the first row that breaks
it, checking it against every signed checkpoint (`audit.checkpoints`) on the way.

Streams the table in keyset-ordered chunks of plain tuples, so memory stays flat at any size.
What each break means:

- a row whose stored hash is not the keyed hash (HMAC, `audit.keys`) of its content: that row
  was **edited**, or written by someone without the audit key (an appended or rehashed row);
- a row with a plain, unkeyed hash after a keyed one: **written without the key** (only rows
  from before the trail was keyed may be unkeyed);
- a row that a signed checkpoint names with another hash: the chain up to it was **rewritten**
  (what catches rehashed rows from before the key), named between the last row a checkpoint
  still confirms and that row;
- a checkpoint naming a row past the end of the chain: rows were **deleted from the end** and
  the head moved back (**truncation**), or the head alone moved back;
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

from . import checkpoints, guard, keys
from .checkpoints import Checkpoint
from .models import GENESIS_HASH, HASHED_FIELDS, AuditChainHead, AuditEvent, compute_hash

_COLUMNS = ("id", "prev_hash", "hash", "key_id", *HASHED_FIELDS)


@dataclass(frozen=True)
class Problem:
    row_id: int | None
    # edited, unkeyed, unknown_key, deleted, inserted, out_of_order, rewritten, truncated,
    # guard_missing, head_missing, bad_checkpoint
    kind: str
    message: str


@dataclass(frozen=True)
class Report:
    checked: int
    last_id: int | None
    problem: Problem | None
    last_hash: str = GENESIS_HASH
    last_time: Any = None
    checkpoints: int = 0
    latest_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(using: str, upto: int | None, chunk_size: int, after: int = 0) -> Any:
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


class ChainBroken(Exception):
    """No checkpoint is signed over a chain that does not verify."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class _Walk:
    """Where the walk is: the last good row and what the checkpoints still expect."""

    checked: int = 0
    prev_id: int | None = None
    prev_hash: str = GENESIS_HASH
    prev_time: Any = None
    keyed: bool = False  # a keyed row was seen: every later row must be keyed
    confirmed: int | None = None  # the last row a checkpoint confirmed


def _row_problem(walk: _Walk, using: str, values: tuple[Any, ...]) -> Problem | None:
    row_id, row_prev, row_hash, key_id = values[:4]
    content = dict(zip(HASHED_FIELDS, values[4:], strict=True))
    if key_id is None:
        if walk.keyed:
            return Problem(
                row_id,
                "unkeyed",
                f"Row {row_id} has an unkeyed hash after keyed rows: it was written or rewritten without the audit key.",
            )
        expected = compute_hash(content, row_prev)
    else:
        key = keys.by_id(key_id)
        if key is None:
            return Problem(row_id, "unknown_key", f"Row {row_id} names audit key {key_id!r}, which is not configured.")
        walk.keyed = True
        expected = compute_hash(content, row_prev, key.row_key)
    if expected != row_hash:
        how = "was edited, or written without the audit key" if key_id is not None else "was edited"
        return Problem(row_id, "edited", f"Row {row_id} {how}: its hash no longer matches its content.")
    if row_prev != walk.prev_hash:
        return _broken_link(using, row_id, row_prev, walk.prev_id, walk.prev_hash)
    if walk.prev_time is not None and content["time"] < walk.prev_time:
        return Problem(
            row_id, "out_of_order", f"Row {row_id} was inserted out of order: it is dated before row {walk.prev_id}."
        )
    return None


def _pinned_problem(walk: _Walk, row_id: int, row_hash: str, pins: list[Checkpoint]) -> Problem | None:
    """Check the row against the checkpoints (sorted by row, unconsumed) that name it or an earlier row."""
    while pins and (pinned := pins[0].seq) is not None and pinned <= row_id:
        pin = pins.pop(0)
        if pinned < row_id:
            return Problem(pinned, "deleted", f"Row {pinned}, which signed checkpoint {pin.number} names, was deleted.")
        if pin.hash != row_hash:
            since = f" after row {walk.confirmed}, the last row a checkpoint confirms" if walk.confirmed else ""
            return Problem(
                row_id,
                "rewritten",
                f"Row {row_id} is not the row signed checkpoint {pin.number} names (signed {pin.signed_at}): "
                f"rows up to it were rewritten{since}.",
            )
        walk.confirmed = row_id
    return None


def _start(using: str, latest: Checkpoint | None) -> _Walk:
    """Where an incremental walk starts: the latest checkpoint's row, if it is still there as signed."""
    if latest is None or latest.seq is None:
        return _Walk()
    row = AuditEvent.objects.using(using).filter(pk=latest.seq).values_list("hash", "key_id", "time").first()
    if row is None or row[0] != latest.hash:
        return _Walk()  # the full walk names what happened to it
    return _Walk(prev_id=latest.seq, prev_hash=row[0], prev_time=row[2], keyed=row[1] is not None, confirmed=latest.seq)


def verify_chain(*, using: str = "default", chunk_size: int = 5000, incremental: bool = False) -> Report:
    """Walk the chain up to the head as it is now, against every signed checkpoint; report the
    first break, or none. `incremental` starts at the latest checkpoint's row (checked as signed)."""
    signed, bad = checkpoints.read()
    latest = max(signed, key=lambda c: c.number) if signed else None

    def report(walk: _Walk, problem: Problem | None) -> Report:
        return Report(walk.checked, walk.prev_id, problem, walk.prev_hash, walk.prev_time, len(signed), latest)

    if bad:
        first = bad[0]
        return report(_Walk(), Problem(None, "bad_checkpoint", f"Checkpoint {first.number} {first.reason}."))
    head = AuditChainHead.objects.using(using).filter(pk=1).first()
    upto = head.last_id if head is not None else None
    walk = _start(using, latest) if incremental else _Walk()
    pins = sorted(
        (c for c in signed if c.seq is not None and c.seq > (walk.prev_id or 0)), key=lambda c: (c.seq, c.number)
    )
    for values in _rows(using, upto, chunk_size, after=walk.prev_id or 0):
        problem = _row_problem(walk, using, values) or _pinned_problem(walk, values[0], values[2], pins)
        if problem is not None:
            return report(walk, problem)
        walk.checked += 1
        walk.prev_id, walk.prev_hash, walk.prev_time = values[0], values[2], values[4]

    events = AuditEvent.objects.using(using)
    if pins:
        pin = pins[0]
        after = f"after row {walk.prev_id}" if walk.prev_id is not None else "from the start"
        beyond = events.filter(id__gt=walk.prev_id or 0).exists()
        what = "the chain head was moved back" if beyond else "were deleted"
        return report(
            walk,
            Problem(
                walk.prev_id,
                "truncated",
                f"Rows {after} {what}: signed checkpoint {pin.number} names row {pin.seq} "
                f"(signed {pin.signed_at}) as part of the chain.",
            ),
        )
    if head is None:
        if walk.prev_id is not None:
            return report(walk, Problem(None, "head_missing", "The chain head row is missing."))
    elif (walk.prev_id, walk.prev_hash) != (head.last_id, head.last_hash):
        if head.last_id is not None and (walk.prev_id is None or walk.prev_id < head.last_id):
            after = f"after row {walk.prev_id}" if walk.prev_id is not None else "from the start"
            return report(
                walk,
                Problem(
                    walk.prev_id,
                    "deleted",
                    f"Rows {after} were deleted: the chain head says the last row is {head.last_id}.",
                ),
            )
        return report(
            walk,
            Problem(
                walk.prev_id,
                "edited",
                f"Row {walk.prev_id} was edited and its hash recomputed: the chain head disagrees.",
            ),
        )
    # Rows past the head as it is now were not written by record(), which moves the head with them.
    latest_id = AuditChainHead.objects.using(using).filter(pk=1).values_list("last_id", flat=True).first()
    stray = events.filter(id__gt=latest_id or 0).order_by("id").values_list("id", flat=True).first()
    if stray is not None:
        return report(
            walk,
            Problem(stray, "inserted", f"Row {stray} was inserted after the end of the chain, not through record()."),
        )
    if not guard.installed(connections[using]):
        return report(
            walk,
            Problem(
                None,
                "guard_missing",
                "The triggers that refuse UPDATE and DELETE on the audit tables are missing or disabled.",
            ),
        )
    return report(walk, None)


def checkpoint_now(*, using: str = "default", chunk_size: int = 5000) -> Checkpoint:
    """Verify the rows since the latest checkpoint, then sign and publish the head they end at.

    Raises `ChainBroken` instead of signing a chain that does not verify.
    """
    result = verify_chain(using=using, chunk_size=chunk_size, incremental=True)
    if result.problem is not None:
        raise ChainBroken(result.problem)
    return checkpoints.append(seq=result.last_id, hash=result.last_hash, head_time=result.last_time)


def describe(checkpoint: Checkpoint) -> str:
    row = f"row {checkpoint.seq}" if checkpoint.seq is not None else "the empty chain"
    return f"Checkpoint {checkpoint.number}: {row}, hash {checkpoint.hash[:16]}..., signed {checkpoint.signed_at}"
