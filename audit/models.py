"""The audit trail's tables: append-only, hash-chained (HMAC under a key kept out of the
database) events and the one-row chain head.

Nothing here is a foreign key. The database refuses UPDATE and DELETE on the event table (see the
triggers in migration 0002), so ``on_delete=SET_NULL`` or ``CASCADE`` could never run: deleting a
user or a connection would fail. Instead each event keeps the plain id and a label (username,
connection name) as they were when it happened, which is also what an auditor wants to read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from . import keys

GENESIS_HASH = "0" * 64

# The fields a row's hash covers, in this order. `id` is left out on purpose: it is assigned by
# the database after the hash is computed; chain order is carried by `prev_hash` instead.
HASHED_FIELDS = (
    "time",
    "actor_id",
    "actor_label",
    "roles",
    "ip",
    "user_agent",
    "connection_id",
    "connection_label",
    "resource",
    "action",
    "params",
    "outcome",
    "aws_request_id",
    "error",
)


class Outcome(models.TextChoices):
    INTENT = "intent", "Intent"
    OK = "ok", "OK"
    ERROR = "error", "Error"
    DENIED = "denied", "Denied"


def canonical_time(value: datetime) -> str:
    """One spelling of a moment, identical before saving and after reading back on any database."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(content: dict[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """The hash of a row: HMAC-SHA256 under the audit row key (`audit.keys`) over a canonical JSON
    of the hashed fields and the previous row's hash. Without a key, a plain SHA-256: the rows
    written before the trail was keyed, which anyone could recompute."""
    document = {name: content[name] for name in HASHED_FIELDS}
    document["time"] = canonical_time(document["time"])
    document["prev_hash"] = prev_hash
    text = canonical_json(document).encode()
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class AuditEvent(models.Model):
    """Who did what, when, from where, on which connection, and how it ended. Never changed."""

    time = models.DateTimeField(default=timezone.now)
    # The user's id at the time (no FK: see the module docstring); null for AWS and the system.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    # The actor's roles on `connection` at the time, sorted.
    roles = models.JSONField(default=list, blank=True)
    # Kept as text so the hashed spelling is exactly what the database gives back.
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    connection_id = models.BigIntegerField(null=True, blank=True)
    connection_label = models.CharField(max_length=100, blank=True)
    resource = models.CharField(max_length=512, blank=True)
    action = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OK)
    aws_request_id = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # The audit key whose row key made `hash` (`audit.keys`); null for rows from before the trail
    # was keyed. Not hashed itself: a wrong id simply makes the HMAC fail. Null rather than "" so the
    # column is added to a guarded table in place (no SQLite rebuild) and "no key" reads as such.
    key_id = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["time", "id"], name="audit_time_id"),
            models.Index(fields=["connection_id", "id"], name="audit_connection_id"),
            models.Index(fields=["action", "outcome", "time"], name="audit_action_outcome_time"),
            models.Index(fields=["actor_label", "id"], name="audit_actor_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {canonical_time(self.time)} {self.actor_label or 'system'} {self.action} {self.outcome}"

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HASHED_FIELDS}

    def expected_hash(self) -> str:
        """The hash this row should carry, under its key (None if that key is not configured)."""
        if self.key_id is None:
            return compute_hash(self.content(), self.prev_hash)
        key = keys.by_id(self.key_id)
        return "" if key is None else compute_hash(self.content(), self.prev_hash, key.row_key)


class AuditChainHead(models.Model):
    """The chain's last link, one row (pk=1). Locked while appending so links never fork.

    It also lets `audit_verify` notice rows removed from the end of the chain, which no
    `prev_hash` could reveal. Triggers (`audit.guard`) let it only move forward, to a row that
    exists with that hash; signed checkpoints (`audit.checkpoints`) pin it outside the database.
    """

    last_id = models.BigIntegerField(null=True, blank=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    last_time = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"chain head #{self.last_id} {self.last_hash[:12]}"
