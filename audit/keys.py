"""The audit trail's keys: what a database writer does not have.

Each configured secret (``settings.AUDIT_KEYS``, else one derived from ``SECRET_KEY`` as the
Fernet keys are) gives two keys, both derived with HMAC-SHA256 so neither reveals the other:

- a row key: every row's hash is an HMAC under it, so no one without it can compute the hash of
  an edited, inserted or appended row;
- an Ed25519 signing key for the checkpoints; its public half lets anyone check a published
  checkpoint without being able to sign one.

A key is named by its id (a short digest of its public key), stored on each row and checkpoint,
so rotating keys (prepend a new secret, keep the old ones) leaves older rows verifiable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    row_key: bytes
    signing_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def public_key_text(self) -> str:
        """The public key as base64 (raw 32 bytes), for whoever checks published checkpoints."""
        return base64.b64encode(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _derive(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"orgportal audit {purpose}".encode(), hashlib.sha256).digest()


def _key(secret: str) -> AuditKey:
    signing = Ed25519PrivateKey.from_private_bytes(_derive(secret, "checkpoint signing"))
    public = signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return AuditKey(
        key_id="k" + hashlib.sha256(public).hexdigest()[:12],
        row_key=_derive(secret, "row hash"),
        signing_key=signing,
    )


@lru_cache(maxsize=8)
def _keys(secrets: tuple[str, ...]) -> tuple[AuditKey, ...]:
    return tuple(_key(secret) for secret in secrets)


def all_keys() -> tuple[AuditKey, ...]:
    """Every configured key, the current one first (read from settings each call: tests override them)."""
    secrets = tuple(settings.AUDIT_KEYS) or ("orgportal-audit:" + settings.SECRET_KEY,)
    return _keys(secrets)


def current() -> AuditKey:
    """The key that hashes new rows and signs new checkpoints."""
    return all_keys()[0]


def by_id(key_id: str) -> AuditKey | None:
    return next((key for key in all_keys() if key.key_id == key_id), None)
