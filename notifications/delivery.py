"""Events out: delivery rows claimed, sent, retried, dead-lettered, and audited.

A worker owns a row only after a conditional UPDATE moved it from `pending` to `sending` under
its own claim token (healthchecks' sendalerts pattern): any number of workers on any number of
hosts, and no two send the same row. A failure puts the row back to `pending` after an
exponential backoff with jitter; after NOTIFY_MAX_ATTEMPTS it is `dead` and waits for an admin's
retry. A worker killed while sending leaves its row in `sending`: after
NOTIFY_CLAIM_TIMEOUT_SECONDS the sweep hands it back to the queue, and it is retried under the
same delivery id (the email's Message-ID, the webhook's X-Orgportal-Delivery header), so a
receiver that took the first try can tell the retry is the same message. Events are unique per
reminder threshold, so a retry never becomes a second reminder.

Every outcome is written to the audit trail with the row's new state, in one transaction per batch.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from audit.events import record_many
from audit.models import Outcome as AuditOutcome

from . import channels
from .models import Delivery, EventKind

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
BATCH = 50


@dataclass(slots=True)
class Drained:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    swept: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.dead


@dataclass
class Result:
    delivery: Delivery
    error: str = ""
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def absolute(path: str) -> str:
    return settings.NOTIFY_BASE_URL.rstrip("/") + path


def unsubscribe_url(user_id: int, connection_id: int) -> str:
    token = signing.dumps({"u": user_id, "c": connection_id}, salt=UNSUBSCRIBE_SALT)
    return absolute(reverse("notifications:unsubscribe", args=[token]))


def message_of(delivery: Delivery) -> channels.Message:
    event = delivery.event
    return channels.Message(
        delivery_key=delivery.key,
        event_key=event.key,
        kind=event.kind,
        kind_label=EventKind(event.kind).label,
        connection=event.connection.name,
        title=event.title,
        body=event.body,
        url=absolute(event.path or reverse("notifications:list")),
        occurred_at=event.created_at.isoformat(),
        data=event.data,
    )


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling from NOTIFY_RETRY_BASE_SECONDS, capped,
    with jitter (x0.5 to x1.5) so receivers that came back are not hit by every row at once."""
    base = float(settings.NOTIFY_RETRY_BASE_SECONDS)
    delay = min(float(settings.NOTIFY_RETRY_MAX_SECONDS), base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.5, 1.5))


# --- claiming ------------------------------------------------------------------------------------


def sweep() -> int:
    """Hand rows whose worker died mid-send (claim older than the timeout) back to the queue."""
    stale = timezone.now() - timedelta(seconds=settings.NOTIFY_CLAIM_TIMEOUT_SECONDS)
    return Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=stale).update(
        state=Delivery.State.PENDING, claim_token="", next_attempt_at=timezone.now()
    )


def claim(*, now: datetime, batch: int = BATCH, ids: Iterable[int] | None = None) -> list[Delivery]:
    """Claim up to `batch` due rows (or exactly `ids`) for this worker; the rows it won."""
    queue = Delivery.objects.filter(state=Delivery.State.PENDING)
    if ids is not None:
        wanted = list(queue.filter(pk__in=list(ids)).values_list("pk", flat=True))
    else:
        due = queue.filter(next_attempt_at__lte=now).order_by("priority", "next_attempt_at", "id")
        wanted = list(due.values_list("pk", flat=True)[:batch])
    if not wanted:
        return []
    token = secrets.token_hex(16)
    # The state in the WHERE clause is the claim: a row another worker took first is not updated.
    Delivery.objects.filter(pk__in=wanted, state=Delivery.State.PENDING).update(
        state=Delivery.State.SENDING, claim_token=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    return list(
        Delivery.objects.filter(claim_token=token, state=Delivery.State.SENDING)
        .select_related("event", "event__connection", "recipient", "channel")
        .order_by("priority", "id")
    )


# --- sending -------------------------------------------------------------------------------------


def _send_hook(delivery: Delivery, url: str, secret: str, message: channels.Message) -> Result:
    try:
        status = channels.send_webhook(delivery.medium, url, secret, message)
    except channels.DeliveryError as exc:
        return Result(delivery, error=str(exc), status=exc.status)
    except Exception as exc:  # anything else is this row's failure, not the batch's
        return Result(delivery, error=f"{type(exc).__name__}: {exc}")
    return Result(delivery, status=status)


def send(rows: list[Delivery]) -> list[Result]:
    """Send claimed rows: webhooks side by side (network-bound), emails over one SMTP connection."""
    results: list[Result] = []
    hooks = [row for row in rows if row.medium != Delivery.Medium.EMAIL]
    mails = [row for row in rows if row.medium == Delivery.Medium.EMAIL]
    with ThreadPoolExecutor(max_workers=min(8, len(hooks) or 1)) as pool:
        # The secrets are decrypted here, in this thread: the pool only talks to the network.
        futures = []
        for row in hooks:
            channel = row.channel
            if channel is None:
                results.append(Result(row, error="The channel was removed."))
                continue
            futures.append(pool.submit(_send_hook, row, channel.url, channel.secret, message_of(row)))
        if mails:
            results.extend(_send_mails(mails))
        results.extend(future.result() for future in futures)
    return results


def _send_mails(rows: list[Delivery]) -> list[Result]:
    results: list[Result] = []
    try:
        backend = get_connection(fail_silently=False)
        backend.open()
    except Exception as exc:
        return [Result(row, error=f"mail server: {type(exc).__name__}: {exc}") for row in rows]
    try:
        for row in rows:
            recipient = row.recipient
            if recipient is None or not recipient.email:
                results.append(Result(row, error="The recipient has no email address."))
                continue
            mail = channels.email_message(
                message_of(row), to=recipient.email, unsubscribe_url=unsubscribe_url(recipient.pk, row.connection_id)
            )
            mail.connection = backend
            try:
                mail.send()
            except Exception as exc:
                results.append(Result(row, error=f"mail server: {type(exc).__name__}: {exc}"))
            else:
                results.append(Result(row))
    finally:
        try:
            backend.close()
        except Exception:
            log.warning("closing the mail connection failed", exc_info=True)
    return results


def finish(results: list[Result], counts: Drained) -> None:
    """Record each outcome on its row (only while our claim stands) and in the audit trail."""
    now = timezone.now()
    audit: list[dict[str, Any]] = []
    with transaction.atomic():
        for result in results:
            row = result.delivery
            ours = Delivery.objects.filter(pk=row.pk, claim_token=row.claim_token, state=Delivery.State.SENDING)
            if not result.error:
                changed = ours.update(
                    state=Delivery.State.SENT, sent_at=now, last_status=result.status, last_error="", claim_token=""
                )
                row.state = Delivery.State.SENT
                counts.sent += changed
            elif row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                changed = ours.update(
                    state=Delivery.State.DEAD, last_status=result.status, last_error=result.error, claim_token=""
                )
                row.state = Delivery.State.DEAD
                counts.dead += changed
            else:
                changed = ours.update(
                    state=Delivery.State.PENDING,
                    next_attempt_at=now + backoff(row.attempts),
                    last_status=result.status,
                    last_error=result.error,
                    claim_token="",
                )
                row.state = Delivery.State.PENDING
                counts.failed += changed
            if not changed:
                continue  # swept and taken by another worker meanwhile: its outcome is recorded there
            audit.append(
                {
                    "action": "notification.delivery",
                    "actor_label": "system",
                    "connection": row.event.connection,
                    "resource": f"notification/{row.pk}",
                    "params": {
                        "event": row.event.key,
                        "kind": row.event.kind,
                        "medium": row.medium,
                        "to": row.where,
                        "attempt": row.attempts,
                        "state": row.state,
                        "status": result.status,
                    },
                    "outcome": AuditOutcome.OK if not result.error else AuditOutcome.ERROR,
                    "error": result.error,
                }
            )
        record_many(audit)


def deliver_due(*, now: datetime | None = None, limit: int = 10_000) -> Drained:
    """Send what is due, batch after batch, until nothing is due or `limit` rows were tried."""
    counts = Drained(swept=sweep())
    while counts.attempted < limit:
        rows = claim(now=now or timezone.now(), batch=min(BATCH, limit - counts.attempted))
        if not rows:
            break
        finish(send(rows), counts)
    return counts


def deliver_now(ids: Iterable[int]) -> Drained:
    """Send exactly these rows now (a test message, an admin's retry), if still waiting."""
    counts = Drained()
    rows = claim(now=timezone.now(), ids=ids)
    if rows:
        finish(send(rows), counts)
    return counts


# --- the daily digest ----------------------------------------------------------------------------


def send_digests() -> int:
    """One email per user with every event held for the digest; how many emails went out."""
    waiting = list(
        Delivery.objects.filter(state=Delivery.State.DIGEST)
        .select_related("event", "event__connection", "recipient")
        .order_by("recipient_id", "priority", "id")
    )
    by_user: dict[int, list[Delivery]] = defaultdict(list)
    for row in waiting:
        if row.recipient_id is not None:
            by_user[row.recipient_id].append(row)
    sent = 0
    for rows in by_user.values():
        token = secrets.token_hex(16)
        won = Delivery.objects.filter(pk__in=[r.pk for r in rows], state=Delivery.State.DIGEST).update(
            state=Delivery.State.SENDING, claim_token=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        if not won:
            continue
        rows = [r for r in rows if Delivery.objects.filter(pk=r.pk, claim_token=token).exists()]
        recipient = rows[0].recipient
        assert recipient is not None
        lines = [f"- {r.event.title}\n  {r.event.body}\n  {absolute(r.event.path)}" for r in rows]
        first = rows[0]
        mail = EmailMultiAlternatives(
            subject=f"[orgportal] Daily digest: {len(rows)} notification{'s' if len(rows) != 1 else ''}",
            body="\n\n".join(lines)
            + f"\n\n-- \nStop these emails: {unsubscribe_url(recipient.pk, first.connection_id)}\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient.email],
            headers={"List-Unsubscribe": f"<{unsubscribe_url(recipient.pk, first.connection_id)}>"},
        )
        counts = Drained()
        try:
            mail.send()
            results = [Result(r) for r in rows]
        except Exception as exc:
            results = [Result(r, error=f"mail server: {type(exc).__name__}: {exc}") for r in rows]
        for r in rows:
            r.claim_token = token
        finish(results, counts)
        # A failed digest goes back to waiting for the next digest rather than out one by one.
        Delivery.objects.filter(pk__in=[r.pk for r in rows], state=Delivery.State.PENDING).update(
            state=Delivery.State.DIGEST
        )
        sent += 1 if counts.sent else 0
    return sent
