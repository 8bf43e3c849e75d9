"""Signed checkpoints of the audit chain, published outside the database.

As Certificate Transparency's signed tree heads: a checkpoint is the chain head at a moment (the
last row's id, its hash, its time) signed with the audit key's Ed25519 key (`audit.keys`), which
is not in the database. Checkpoints are appended, one JSON object a line, to
``AUDIT_CHECKPOINT_DIR/checkpoints.jsonl`` (written with O_APPEND and fsynced; keep that folder
off the database host, or on an append-only mount, or ship the file elsewhere) and, when
``AUDIT_CHECKPOINT_WEBHOOK`` is set, POSTed there as they are written.

This module reads and writes checkpoints; `audit.verify` decides what they say about the rows
(and verifies the rows before a new checkpoint is signed over them).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.utils import timezone

from . import keys
from .models import canonical_json, canonical_time

log = logging.getLogger(__name__)

FILENAME = "checkpoints.jsonl"
_SIGNED_FIELDS = ("seq", "hash", "head_time", "signed_at", "key_id")


@dataclass(frozen=True)
class Checkpoint:
    number: int  # its line in the file, from 1
    seq: int | None  # the id of the chain's last row then (None: the chain was empty)
    hash: str
    head_time: str
    signed_at: str
    key_id: str
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*_SIGNED_FIELDS, "signature")}


@dataclass(frozen=True)
class BadCheckpoint:
    number: int
    reason: str


def path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR) / FILENAME


def _message(fields: dict[str, Any]) -> bytes:
    return canonical_json({name: fields.get(name) for name in _SIGNED_FIELDS}).encode()


def read() -> tuple[list[Checkpoint], list[BadCheckpoint]]:
    """Every checkpoint in the file whose signature holds, and the lines that do not."""
    good: list[Checkpoint] = []
    bad: list[BadCheckpoint] = []
    try:
        lines = path().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return good, bad
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            key = keys.by_id(fields["key_id"])
            if key is None:
                bad.append(BadCheckpoint(number, f"is signed by unknown key {fields['key_id']!r}"))
                continue
            key.public_key.verify(base64.b64decode(fields["signature"]), _message(fields))
            good.append(Checkpoint(number=number, **{name: fields[name] for name in (*_SIGNED_FIELDS, "signature")}))
        except InvalidSignature:
            bad.append(BadCheckpoint(number, "has a bad signature"))
        except (ValueError, KeyError, TypeError):
            bad.append(BadCheckpoint(number, "is not a checkpoint"))
    return good, bad


def append(*, seq: int | None, hash: str, head_time: datetime | None) -> Checkpoint:
    """Sign the head described and publish the checkpoint (file, then webhook)."""
    key = keys.current()
    fields: dict[str, Any] = {
        "seq": seq,
        "hash": hash,
        "head_time": canonical_time(head_time) if head_time is not None else "",
        "signed_at": canonical_time(timezone.now()),
        "key_id": key.key_id,
    }
    fields["signature"] = base64.b64encode(key.signing_key.sign(_message(fields))).decode()
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    existing = (
        sum(1 for line in target.read_text(encoding="utf-8").splitlines() if line.strip()) if target.exists() else 0
    )
    line = (json.dumps(fields, sort_keys=True) + "\n").encode()
    # One write() of a whole line on an O_APPEND file: concurrent writers never interleave lines.
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    _post(fields)
    return Checkpoint(number=existing + 1, **fields)


def _post(fields: dict[str, Any]) -> None:
    url = settings.AUDIT_CHECKPOINT_WEBHOOK
    if not url:
        return
    if not url.startswith(("https://", "http://")):
        log.error("AUDIT_CHECKPOINT_WEBHOOK must be an http(s) URL; checkpoint kept in the file only")
        return
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, data=json.dumps(fields).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (the scheme is checked above)
            pass
    except OSError as error:
        # The file has it; the next checkpoint is posted again as usual.
        log.warning("Could not post the audit checkpoint to the webhook: %s", error)
