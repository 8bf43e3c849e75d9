"""Writing the audit trail: `record()` for one event, `record_many()` for a batch. Nothing else writes it.

Both run inside the caller's transaction, so an event commits or rolls back together with the
change it records. Appends are serialized by locking the one-row chain head (``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite every writing transaction is already exclusive because the
settings open them IMMEDIATE), so every row's ``prev_hash`` is the hash of the row before it.
The lock is held until the caller's transaction ends: keep transactions that record short, and
never hold one open across an AWS call.

Any details are stored, whatever they hold: text that no database (or no JSON) can carry is
escaped visibly before it is hashed, in the spelling Python's ``backslashreplace`` gives — a NUL
byte becomes ``\\x00`` (PostgreSQL refuses NUL in text and JSON), a lone surrogate ``\\udc80``,
an invalid UTF-8 byte in a ``bytes`` value ``\\xff``. A literal backslash is kept as it is, so
an escape and the same characters typed by hand read alike: the trail records what was asked, not
a byte-exact copy. Each row's hash is an HMAC under the current audit key (`audit.keys`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Required, TypedDict, Unpack

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from orgportal import bulk
from orgportal.roles import roles_on

from . import keys
from .models import AuditChainHead, AuditEvent, Outcome, compute_hash

REDACTED = "[redacted]"

# A parameter whose name contains one of these words never reaches the trail. A bare "key" (as in
# AWS tags: {"Key": ..., "Value": ...}) is a name, not a secret, and is kept.
_SECRET_NAME = re.compile(
    r"secret|passw|pwd|token|credential|private|signature|cookie|session|csrf|authoriz|external_?id|.+key",
    re.IGNORECASE,
)

OUTCOMES = frozenset(Outcome.values)


def scrub(value: Any) -> Any:
    """`value` with every secret-looking entry (by key name, at any depth) replaced."""
    if isinstance(value, Mapping):
        return {str(name): REDACTED if _SECRET_NAME.search(str(name)) else scrub(item) for name, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(item) for item in value]
    return value


def safe_text(value: str | bytes | bytearray) -> str:
    """`value` as text every database stores as given: NUL, lone surrogates and (in bytes) invalid
    UTF-8 escaped visibly with backslashes."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "backslashreplace")
    else:
        text = value.encode("utf-8", "backslashreplace").decode("utf-8") if not value.isascii() else value
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def _safe(value: Any) -> Any:
    """`value` with every string (keys included, at any depth) and bytes made safe by `safe_text`."""
    if isinstance(value, str | bytes | bytearray):
        return safe_text(value)
    if isinstance(value, Mapping):
        return {safe_text(str(name)): _safe(item) for name, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(item) for item in value]
    return value


def _json_ready(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Scrubbed, safe params in exactly the form the database gives back, so the hash survives a
    round trip. A value JSON cannot hold (a Decimal, a date...) is written as the encoder spells it."""
    if not params:
        return {}
    encoded = json.dumps(_safe(scrub(params)), cls=DjangoJSONEncoder, default=str)
    return _safe(json.loads(encoded))  # type: ignore[no-any-return]


def client_ip(request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "TRUSTED_PROXIES", 0)
    if proxies:
        # Behind N proxies of ours, each appended the address it saw: the client is the N-th
        # from the right. Hops further left were written by the client and prove nothing.
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            address = hops[-proxies] if len(hops) >= proxies else hops[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def _roles(actor: Any, connection: Any) -> list[str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    if connection is None:
        return ["superuser"] if getattr(actor, "is_superuser", False) else []
    return sorted(roles_on(actor, connection))


def _build(
    *,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
    connection: Any = None,
    resource: str = "",
    params: Mapping[str, Any] | None = None,
    outcome: str = Outcome.OK,
    aws_request_id: str = "",
    error: str = "",
    roles_cache: dict[tuple[Any, Any], list[str]] | None = None,
) -> AuditEvent:
    if not action or len(action) > 64:
        raise ValueError(f"An audit action is 1 to 64 characters, not {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"An audit outcome is one of {sorted(OUTCOMES)}, not {outcome!r}")
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated and not actor_label:
            actor = request.user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    label = actor.get_username() if actor is not None else (actor_label or "system")
    if roles_cache is None:
        roles = _roles(actor, connection)
    else:
        cache_key = (getattr(actor, "pk", None), getattr(connection, "pk", None))
        if cache_key not in roles_cache:
            roles_cache[cache_key] = _roles(actor, connection)
        roles = roles_cache[cache_key]
    return AuditEvent(
        actor_id=actor.pk if actor is not None else None,
        actor_label=safe_text(label)[:150],
        roles=roles,
        ip=client_ip(request) if request is not None else "",
        user_agent=safe_text(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:512],
        connection_id=connection.pk if connection is not None else None,
        connection_label=safe_text(str(connection.name) if connection is not None else "")[:100],
        resource=safe_text(str(resource))[:512],
        action=safe_text(action),
        params=_json_ready(params),
        outcome=outcome,
        aws_request_id=safe_text(str(aws_request_id or ""))[:128],
        error=safe_text(str(error or "")),
    )


def _locked_head(using: str) -> AuditChainHead:
    head = AuditChainHead.objects.using(using).select_for_update().filter(pk=1).first()
    if head is None:
        # A flushed test database (or a restored dump without it) has no head yet: the chain
        # starts again from the genesis hash.
        AuditChainHead.objects.using(using).get_or_create(pk=1)
        head = AuditChainHead.objects.using(using).select_for_update().get(pk=1)
    return head


def _append(events: list[AuditEvent], using: str = "default") -> list[AuditEvent]:
    if not events:
        return events
    # savepoint=False: join the caller's transaction (or open one) without a savepoint per event.
    with transaction.atomic(using=using, savepoint=False):
        head = _locked_head(using)
        now = timezone.now()
        if head.last_time is not None and now < head.last_time:
            # Times never go backwards along the chain, even if the clock does.
            now = head.last_time
        prev_hash = head.last_hash
        key = keys.current()
        for event in events:
            event.time = now
            event.prev_hash = prev_hash
            event.key_id = key.key_id
            event.hash = compute_hash(event.content(), prev_hash, key.row_key)
            prev_hash = event.hash
        if len(events) == 1:
            events[0].save(using=using, force_insert=True)
        else:
            bulk.insert(events, using=using, ids_by="hash")
        last = events[-1]
        AuditChainHead.objects.using(using).filter(pk=1).update(last_id=last.pk, last_hash=last.hash, last_time=now)
    return events


class EventFields(TypedDict, total=False):
    """`record()`'s keyword arguments: the ones `_build` takes, `action` required."""

    action: Required[str]
    actor: Any
    actor_label: str
    request: HttpRequest | None
    connection: Any
    resource: str
    params: Mapping[str, Any] | None
    outcome: str
    aws_request_id: str
    error: str
    roles_cache: dict[tuple[Any, Any], list[str]] | None


def record(**fields: Unpack[EventFields]) -> AuditEvent:
    """Append one event to the trail, in the caller's transaction.

    `actor` is a user (or None); without one, `request.user` is taken when signed in, else
    `actor_label` ("AWS", "system", ...). `request` fills IP and user agent; the actor's roles on
    `connection` are looked up now, or once per `roles_cache` (a dict the caller keeps for the
    events of one action). Secrets in `params` are redacted by key name.
    """
    return _append([_build(**fields)])[0]


def record_many(events: Iterable[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append many events (dicts with `record()`'s keyword arguments) under one lock, one bulk insert."""
    roles_cache: dict[tuple[Any, Any], list[str]] = {}
    built = [_build(**dict(event), roles_cache=roles_cache) for event in events]
    return _append(built)
