"""Events in: observed changes and the clock become events, and events become delivery rows.

The change rows the sync and the portal's actions write in the same transaction as the change
(`HandshakeChange`, `TransferChange`) are a transactional outbox. `process_connection` reads
them after a per-connection cursor and, in one transaction per batch, writes the events (each
named by a unique key: the object and what happened to it), the delivery rows (unique per event,
recipient and channel) and the cursor's new position. A killed worker rolls the whole batch
back; a re-run finds the keys taken and adds nothing.

Change ids are handed out when a row is inserted, not when its transaction commits, so a short
action transaction can commit a smaller id after the sync's larger ones were read. The cursor
therefore stops before the changes of the last CURSOR_LAG: those are read again next time, and
their event keys (already taken) make the second read a no-op.

`approval_told` is two-person approval's side: `approvals.events` calls it (registered in this
app's `AppConfig.ready()`) inside the transaction that creates or decides a request, so the
event and its delivery rows commit with the change; the event key (the request and what happened
to it) makes a second call a no-op. A request is told only to the people it concerns: the users
who may decide it on its connection (never the requester), then the requester of the outcome.

`remind` is the clock's side: answer-by deadlines crossing each reminder threshold (each
threshold once per invitation; the tightest one when a jump crosses several), billing transfers
starting and ending this month, invalid effective policies, and a sync failing for longer than
the connection's threshold, then recovering.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from approvals.covered import covered
from approvals.models import ApprovalRequest
from approvals.models import State as ApprovalState
from approvals.services import may_decide
from handshakes.models import OPEN_STATES, Handshake, HandshakeChange
from handshakes.models import Direction as HandshakeDirection
from handshakes.selectors import TRANSFER_ACTION, deadline_of
from orgportal.history import ObservedChange
from orgportal.models import AwsConnection, Grant, Role, SyncRun
from orgportal.roles import IMPLIES
from policies.models import EffectivePolicy
from transfers.models import ACCEPT_BEFORE_START, ResponsibilityTransfer, TransferChange

from .models import (
    ROLE_DEFAULTS,
    URGENT_KINDS,
    ChangeCursor,
    Channel,
    ConnectionSettings,
    Delivery,
    Event,
    EventKind,
    Subscription,
)

log = logging.getLogger(__name__)

BATCH = 5000
CURSOR_LAG = timedelta(minutes=2)
Kind = ObservedChange.Kind

CLOSED_STATES = {
    "ACCEPTED": EventKind.INVITATION_ACCEPTED,
    "DECLINED": EventKind.INVITATION_DECLINED,
    "CANCELED": EventKind.INVITATION_CANCELED,
    "EXPIRED": EventKind.INVITATION_EXPIRED,
}
ALL_FEATURES_ACTIONS = {"ENABLE_ALL_FEATURES", "APPROVE_ALL_FEATURES"}
# A transfer that started longer ago than this is old news, not "starting" (a new connection's
# first sync would otherwise announce every transfer in force).
STARTED_WINDOW = timedelta(days=7)


@dataclass
class Outcome:
    changes: int = 0
    events: int = 0
    deliveries: int = 0

    def add(self, other: Outcome) -> None:
        self.changes += other.changes
        self.events += other.events
        self.deliveries += other.deliveries


def settings_for(connection: AwsConnection) -> ConnectionSettings:
    found = ConnectionSettings.objects.filter(connection=connection).first()
    return found or ConnectionSettings(connection=connection)


def when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "an unknown time"


def _priority(kind: str, billing: bool) -> int:
    if billing or kind == EventKind.INVITATION_DEADLINE:
        return 0  # billing transfers first: a lapsed one costs a month
    if kind == EventKind.SYNC_FAILING:
        return 1
    return 5


# --- change rows -> events ----------------------------------------------------------------------


def _new_state(kind: str, changes: dict[str, Any]) -> tuple[bool, Any]:
    """(created?, the state it has now) from one handshake or transfer change row."""
    field = "state" if "state" in changes else "status"
    value = changes.get(field)
    if kind == Kind.CREATED:
        return True, value
    if isinstance(value, list) and len(value) == 2:
        # An action that created the row records [None, value] for every field.
        return value[0] is None, value[1]
    return False, None


def _handshake_event(connection: AwsConnection, row: dict[str, Any]) -> Event | None:
    created, state = _new_state(row["kind"], row["changes"] or {})
    hid, action = row["handshake__handshake_id"], row["handshake__action"]
    label = Handshake(action=action).action_label
    billing = action == TRANSFER_ACTION
    who = row["handshake__counterparty"] or "another party"
    data = {"handshake_id": hid, "action": action, "counterparty": row["handshake__counterparty"]}

    def event(kind: str, **fields: Any) -> Event:
        where = Where(
            reverse("handshake_detail", args=[row["handshake_id"]]), f"handshake/{hid}", _priority(kind, billing)
        )
        return _event(kind, connection, hid, where, **fields)

    if created and state in OPEN_STATES:
        deadline = deadline_of(
            Handshake(
                action=action,
                expires_at=row["handshake__expires_at"],
                transfer_start_at=row["handshake__transfer_start_at"],
            )
        )
        if action in ALL_FEATURES_ACTIONS:
            kind, title = EventKind.APPROVAL_WAITING, f"{label}: approval waiting ({hid})"
        elif row["handshake__direction"] == HandshakeDirection.RECEIVED:
            kind, title = EventKind.INVITATION_RECEIVED, f"New invitation: {label} from {who}"
        else:
            return None
        body = f"{label} invitation {hid} on {connection.name}; answer by {when(deadline)}."
        if billing and row["handshake__transfer_start_at"]:
            body += f" The transfer would start {when(row['handshake__transfer_start_at'])}."
        return event(
            kind,
            title=title,
            body=body,
            due_at=deadline,
            data={**data, "answer_by": deadline.isoformat() if deadline else None},
        )
    if not created and state in CLOSED_STATES:
        kind = CLOSED_STATES[state]
        return event(
            kind,
            title=f"Invitation {state.lower()}: {label} ({hid})",
            body=f"{label} invitation {hid} with {who} on {connection.name} is now {state}.",
            data={**data, "state": state},
        )
    return None


def _transfer_event(connection: AwsConnection, row: dict[str, Any]) -> Event | None:
    created, status = _new_state(row["kind"], row["changes"] or {})
    if created or status != "WITHDRAWN":
        return None
    tid, end = row["transfer__transfer_id"], row["transfer__end_at"]
    name = row["transfer__name"] or tid
    return _event(
        EventKind.TRANSFER_WITHDRAWN,
        connection,
        tid,
        Where(
            reverse("transfer_detail", args=[row["transfer_id"]]),
            f"transfer/{tid}",
            _priority(EventKind.TRANSFER_WITHDRAWN, True),
        ),
        title=f"Billing transfer withdrawn: {name}",
        body=f"Billing transfer {name} ({tid}) on {connection.name} was withdrawn; it ends {when(end)}.",
        due_at=end,
        data={"transfer_id": tid, "end_at": end.isoformat() if end else None},
    )


class Where(NamedTuple):
    """Where an event points: its page, the resource it names, and its priority (0 first)."""

    path: str
    resource: str
    priority: int


def _event(kind: str, connection: AwsConnection, fact: str, where: Where, **fields: Any) -> Event:
    """An event of `kind` on `connection`, named by its key `kind:connection:fact` (the fact: the
    object and what happened to it, or the threshold crossed), which makes it happen once."""
    return Event(
        key=f"{kind}:{connection.pk}:{fact}",
        kind=kind,
        connection=connection,
        path=where.path,
        resource=where.resource,
        priority=where.priority,
        **fields,
    )


SOURCES = (
    (
        "handshake",
        HandshakeChange,
        (
            "handshake_id",
            "handshake__handshake_id",
            "handshake__action",
            "handshake__direction",
            "handshake__counterparty",
            "handshake__expires_at",
            "handshake__transfer_start_at",
        ),
        _handshake_event,
    ),
    (
        "transfer",
        TransferChange,
        ("transfer_id", "transfer__transfer_id", "transfer__name", "transfer__end_at"),
        _transfer_event,
    ),
)


def process_connection(connection: AwsConnection, *, now: datetime | None = None) -> Outcome:
    """Turn the change rows written since the last call into events and deliveries (the entry
    point after each sync of `connection`). Safe to run twice, concurrently, or after a crash."""
    total = Outcome()
    safe_before = (now or timezone.now()) - CURSOR_LAG
    for source, model, fields, make in SOURCES:
        after: int | None = None
        while True:
            with transaction.atomic():
                # The cursor row's lock makes concurrent runs for one connection take turns.
                ChangeCursor.objects.get_or_create(connection=connection, source=source)
                cursor = ChangeCursor.objects.select_for_update().get(connection=connection, source=source)
                if after is None:
                    after = cursor.last_id
                rows = list(
                    model.objects.filter(connection=connection, id__gt=after)
                    .order_by("id")
                    .values("id", "kind", "changes", "observed_at", *fields)[:BATCH]
                )
                if not rows:
                    break
                candidates = [event for row in rows if (event := make(connection, row)) is not None]
                outcome = store(connection, candidates)
                outcome.changes = len(rows)
                total.add(outcome)
                after = rows[-1]["id"]
                settled = cursor.last_id
                for row in rows:
                    if row["observed_at"] > safe_before:
                        break
                    settled = row["id"]
                if settled != cursor.last_id:
                    cursor.last_id = settled
                    cursor.updated_at = timezone.now()
                    cursor.save(update_fields=["last_id", "updated_at"])
            if len(rows) < BATCH:
                break
    return total


# --- storing events and fanning them out ------------------------------------------------------------


def store(connection: AwsConnection, candidates: list[Event]) -> Outcome:
    """Insert the candidates whose key is not taken yet and fan the new ones out. Call inside a
    transaction, so events and deliveries commit together with whatever the caller moves on."""
    if not candidates:
        return Outcome()
    unique = {event.key: event for event in candidates}
    taken: set[str] = set()
    keys = list(unique)
    for i in range(0, len(keys), 2000):
        taken.update(Event.objects.filter(key__in=keys[i : i + 2000]).values_list("key", flat=True))
    fresh = [event for key, event in unique.items() if key not in taken]
    if not fresh:
        return Outcome()
    # ignore_conflicts: a concurrent run that inserted the same key first wins; the fan-out
    # below is unique per delivery key, so both runs together still write one row each.
    Event.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    fresh_keys = [event.key for event in fresh]
    events: list[Event] = []
    for i in range(0, len(fresh_keys), 2000):
        events.extend(Event.objects.filter(key__in=fresh_keys[i : i + 2000]))
    return Outcome(events=len(events), deliveries=fan_out(connection, events))


@dataclass(frozen=True)
class Recipient:
    user: Any
    events: frozenset[str]
    channels: frozenset[str]
    digest: bool


def recipients(connection: AwsConnection) -> list[Recipient]:
    """Everyone who may read `connection`, with what they chose (or their roles' defaults)."""
    user_model = get_user_model()
    held: dict[int, set[str]] = {}
    for user_id, role in Grant.objects.filter(connection=connection).values_list("user_id", "role"):
        held.setdefault(user_id, set()).update(IMPLIES[role])
    users = user_model.objects.filter(Q(pk__in=list(held)) | Q(is_superuser=True), is_active=True)
    chosen = {s.user_id: s for s in Subscription.objects.filter(connection=connection)}
    channel_choices = frozenset(
        f"channel:{pk}" for pk in Channel.objects.filter(connection=connection).values_list("pk", flat=True)
    )
    found: list[Recipient] = []
    for user in users:
        subscription = chosen.get(user.pk)
        if subscription is not None:
            found.append(
                Recipient(
                    user,
                    frozenset(subscription.events),
                    frozenset(subscription.channels) & (channel_choices | {"email"}),
                    subscription.digest,
                )
            )
            continue
        roles = set(Role.values) if user.is_superuser else held.get(user.pk, set())
        events = frozenset().union(*(ROLE_DEFAULTS.get(role, frozenset()) for role in roles))
        # Admins hear on every channel of their connection; everyone else by email.
        channels = channel_choices | {"email"} if Role.ADMIN in roles else frozenset({"email"})
        if events:
            found.append(Recipient(user, events, channels, False))
    return found


def fan_out(connection: AwsConnection, events: Iterable[Event]) -> int:
    """Delivery rows for `events`: one per (event, user) by email, one per (event, channel) for
    a shared Slack/Teams/webhook channel any subscriber chose (an event with an `audience`: its
    users' emails only). Returns how many were new."""
    people = recipients(connection)
    channels = {c.choice: c for c in Channel.objects.filter(connection=connection)}
    rows: list[Delivery] = []
    for event in events:
        # An event with an audience is for those users only, by email: a shared channel would
        # also reach people it is not for.
        audience = None if event.audience is None else frozenset(event.audience)
        for person in people:
            if event.kind not in person.events:
                continue
            if audience is not None and person.user.pk not in audience:
                continue
            if "email" in person.channels and person.user.email:
                held = person.digest and event.kind not in URGENT_KINDS
                rows.append(
                    Delivery(
                        key=f"{event.pk}:email:{person.user.pk}",
                        event=event,
                        connection=connection,
                        recipient=person.user,
                        medium=Delivery.Medium.EMAIL,
                        state=Delivery.State.DIGEST if held else Delivery.State.PENDING,
                        priority=event.priority,
                    )
                )
            for choice in person.channels if audience is None else ():
                channel = channels.get(choice)
                if channel is not None:
                    rows.append(
                        Delivery(
                            key=f"{event.pk}:channel:{channel.pk}",
                            event=event,
                            connection=connection,
                            channel=channel,
                            medium=channel.kind,
                            priority=event.priority,
                        )
                    )
    if not rows:
        return 0
    unique = list({row.key: row for row in rows}.values())
    Delivery.objects.bulk_create(unique, batch_size=1000, ignore_conflicts=True)
    return len(unique)


# --- two-person approval requests -> events -------------------------------------------------------


def deciders(approval: ApprovalRequest) -> list[int]:
    """The ids of the active users who may decide `approval` now: on its connection they hold every
    role `approvals.services.required_roles` names (the rule's checker role and the action's own
    role; implied roles count, a superuser holds all), and they are not the requester."""
    held: dict[int, set[str]] = {}
    for user_id, role in Grant.objects.filter(connection_id=approval.connection_id).values_list("user_id", "role"):
        held.setdefault(user_id, set()).update(IMPLIES[role])
    users = get_user_model().objects.filter(Q(pk__in=list(held)) | Q(is_superuser=True), is_active=True)
    everything = frozenset(Role.values)
    return sorted(
        user.pk
        for user in users
        if may_decide(approval, user, everything if user.is_superuser else frozenset(held.get(user.pk, ())))
    )


def _one_line(text: str, limit: int = 255) -> str:
    """`text` fit for a subject line: no line breaks or control characters, at most `limit`."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _asked_body(approval: ApprovalRequest, label: str) -> str:
    connection = approval.connection
    call = (
        f"The AWS call it will make: {approval.operation}({', '.join(f'{k}={v}' for k, v in approval.params.items())})."
        if approval.operation
        else "It changes a portal setting (no AWS call)."
    )
    return (
        f"{approval.requester_label} asks a second person to approve: {label}.\n"
        f"Resource: {approval.resource} on {connection.name}.\n"
        f"{call}\n"
        f"Answer by {when(approval.answer_by)}; after that the request lapses and nothing is sent.\n"
        f"Why you: the two-person rule of {connection.name} holds this action until another person "
        f"with the {Role(approval.checker_role).label} role approves or rejects it, and you may; "
        f"{approval.requester_label} may not decide their own request. Nothing was sent to AWS yet."
    )


def _answered(approval: ApprovalRequest, label: str) -> tuple[str, str]:
    """(title, body) of the outcome the requester is told."""
    by = approval.decided_by_label or "another person"
    reason = f" Their reason: {approval.reason}" if approval.reason else ""
    match approval.state:
        case ApprovalState.EXECUTED:
            head = "was approved and sent"
            said = f"{by} approved it and it was sent: {approval.outcome}{reason}"
        case ApprovalState.FAILED:
            head = "was approved, but AWS refused it"
            said = f"{by} approved it, but it did not go through: {approval.outcome}{reason}"
        case ApprovalState.REJECTED:
            head = "was rejected"
            said = f"{by} rejected it; nothing was sent.{reason}"
        case _:  # lapsed
            head = "has lapsed"
            said = f"It lapsed and nothing was sent: {approval.outcome}"
    title = f"Your request #{approval.pk} {head}: {label} ({approval.resource})"
    body = f"Your request #{approval.pk} on {approval.connection.name}: {label}, {approval.resource}.\n{said}"
    return title, body


def _closed(approval: ApprovalRequest, label: str) -> tuple[str, str]:
    """(title, body) the deciders are told when a request waiting for them goes away unanswered."""
    if approval.state == ApprovalState.WITHDRAWN:
        head = "was withdrawn"
        said = f"{approval.requester_label} withdrew it; you need not answer."
        if approval.reason:
            said += f" Their reason: {approval.reason}"
    else:
        head, said = "has lapsed", f"It lapsed unanswered and nothing was sent: {approval.outcome}"
    title = f"Request #{approval.pk} {head}: {label} ({approval.resource})"
    body = (
        f"{approval.requester_label}'s request #{approval.pk} on {approval.connection.name}: {label}, "
        f"{approval.resource}.\n{said}"
    )
    return title, body


def approval_events(kind: str, approval: ApprovalRequest) -> list[Event]:
    """What `approvals.events` tells of `approval` as `kind` ("created", "approved", "rejected",
    "withdrawn", "lapsed", "executed", "failed"), each event with its audience:

    - created: asked of everyone who may decide it (never the requester);
    - rejected, executed, failed, lapsed: the requester's answer;
    - withdrawn, or lapsed while still pending: those who were asked need not answer any more;
    - approved: nothing of its own, its outcome (executed or failed) follows at once and says who."""
    connection = approval.connection
    label = covered(approval.action).label
    data = {
        "request": approval.pk,
        "action": approval.action,
        "resource": approval.resource,
        "requested_by": approval.requester_label,
        "answer_by": approval.answer_by.isoformat(),
        "state": approval.state,
    }

    def event(
        what: str, fact: str, title: str, body: str, audience: list[int], priority: int = 5, **more: Any
    ) -> Event:
        return _event(
            what,
            connection,
            fact,
            Where(reverse("approval_detail", args=[approval.pk]), f"approval/{approval.pk}", priority),
            **more,
            title=_one_line(title),
            body=body,
            data=data,
            audience=audience,
        )

    events: list[Event] = []
    if kind == "created":
        events.append(
            event(
                EventKind.APPROVAL_ASKED,
                f"{approval.pk}",
                f"Approval asked: {label} ({approval.resource}) by {approval.requester_label}",
                _asked_body(approval, label),
                deciders(approval),
                due_at=approval.answer_by,
                priority=0,  # a colleague waits, until a deadline
            )
        )
    answered = {ApprovalState.REJECTED, ApprovalState.EXECUTED, ApprovalState.FAILED, ApprovalState.LAPSED}
    if kind in answered and approval.requester_id is not None:
        title, body = _answered(approval, label)
        events.append(event(EventKind.APPROVAL_ANSWERED, f"{approval.pk}:{kind}", title, body, [approval.requester_id]))
    if kind == ApprovalState.WITHDRAWN or (kind == ApprovalState.LAPSED and approval.decided_at is None):
        title, body = _closed(approval, label)
        events.append(event(EventKind.APPROVAL_CLOSED, f"{approval.pk}:{kind}", title, body, deciders(approval)))
    return events


def approval_told(kind: str, approval: ApprovalRequest) -> None:
    """The listener `approvals.events` calls inside the change's transaction: the events and their
    deliveries are written there, once (a second call finds the keys taken and adds nothing)."""
    store(approval.connection, approval_events(kind, approval))


# --- the clock -> events ----------------------------------------------------------------------


def _month_end(moment: datetime) -> datetime:
    last = calendar.monthrange(moment.year, moment.month)[1]
    return moment.replace(day=last, hour=23, minute=59, second=59, microsecond=999999)


def remind(connection: AwsConnection, *, now: datetime | None = None) -> Outcome:
    """Time-based events for `connection` as of `now` (AWS's time; ours by default)."""
    now = now or timezone.now()
    config = settings_for(connection)
    candidates: list[Event] = [
        *_deadline_events(connection, config, now),
        *_transfer_clock_events(connection, now),
        *_invalid_policy_events(connection),
        *_sync_health_events(connection, config),
    ]
    with transaction.atomic():
        return store(connection, candidates)


def _deadline_events(connection: AwsConnection, config: ConnectionSettings, now: datetime) -> Iterable[Event]:
    thresholds = config.thresholds()
    if not thresholds:
        return
    horizon = now + thresholds[0]
    waiting = (
        Handshake.objects.filter(
            connection=connection,
            vanished_at__isnull=True,
            state__in=OPEN_STATES,
            direction=HandshakeDirection.RECEIVED,
        )
        .filter(
            Q(expires_at__lte=horizon) | Q(action=TRANSFER_ACTION, transfer_start_at__lte=horizon + ACCEPT_BEFORE_START)
        )
        .only("pk", "handshake_id", "action", "counterparty", "expires_at", "transfer_start_at")
    )
    for handshake in waiting:
        deadline = deadline_of(handshake)
        if deadline is None or deadline <= now:
            continue
        crossed = [t for t in thresholds if deadline - t <= now]
        if not crossed:
            continue
        # The tightest threshold crossed: after a long pause, one reminder, not three at once.
        threshold = min(crossed)
        seconds = int(threshold.total_seconds())
        left = deadline - now
        label = handshake.action_label
        yield _event(
            EventKind.INVITATION_DEADLINE,
            connection,
            f"{handshake.handshake_id}:{seconds}",
            Where(reverse("handshake_detail", args=[handshake.pk]), f"handshake/{handshake.handshake_id}", 0),
            title=f"Answer within {_span(threshold)}: {label} from {handshake.counterparty or 'another party'}",
            body=(
                f"{label} invitation {handshake.handshake_id} on {connection.name} must be answered by "
                f"{when(deadline)} ({_span(left)} left). After that it lapses and has to be sent again."
            ),
            due_at=deadline,
            data={
                "handshake_id": handshake.handshake_id,
                "threshold_seconds": seconds,
                "answer_by": deadline.isoformat(),
            },
        )


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 72:
        return f"{round(hours / 24)} days"
    if hours >= 1:
        return f"{hours} hours"
    return f"{max(1, int(delta.total_seconds() // 60))} minutes"


def _transfer_clock_events(connection: AwsConnection, now: datetime) -> Iterable[Event]:
    month_end = _month_end(now.astimezone(UTC))
    transfers = ResponsibilityTransfer.objects.filter(connection=connection, vanished_at__isnull=True).filter(
        Q(status="ACCEPTED", start_at__lte=now, start_at__gt=now - STARTED_WINDOW)
        | Q(end_at__gt=now, end_at__lte=month_end)
    )
    for transfer in transfers:
        name = transfer.name or transfer.transfer_id
        where = Where(reverse("transfer_detail", args=[transfer.pk]), f"transfer/{transfer.transfer_id}", 0)
        data = {"transfer_id": transfer.transfer_id, "direction": transfer.direction}
        if transfer.status == "ACCEPTED" and transfer.start_at and now - STARTED_WINDOW < transfer.start_at <= now:
            yield _event(
                EventKind.TRANSFER_STARTED,
                connection,
                transfer.transfer_id,
                where,
                title=f"Billing transfer started: {name}",
                body=f"Billing transfer {name} ({transfer.transfer_id}) on {connection.name} "
                f"is in force since {when(transfer.start_at)}.",
                due_at=transfer.start_at,
                data=data,
            )
        if transfer.end_at and now < transfer.end_at <= month_end:
            yield _event(
                EventKind.TRANSFER_ENDING,
                connection,
                f"{transfer.transfer_id}:{transfer.end_at:%Y-%m}",
                where,
                title=f"Billing transfer ends this month: {name}",
                body=f"Billing transfer {name} ({transfer.transfer_id}) on {connection.name} ends {when(transfer.end_at)}.",
                due_at=transfer.end_at,
                data={**data, "end_at": transfer.end_at.isoformat()},
            )


def _invalid_policy_events(connection: AwsConnection) -> Iterable[Event]:
    invalid = EffectivePolicy.objects.filter(connection=connection, invalid=True, vanished_at__isnull=True)
    path = reverse("invalid_effective_policies", args=[connection.pk])
    for policy in invalid.only("account_id", "policy_type", "evaluated_at", "validation_path", "changed_at"):
        # A new evaluation that is still invalid is news again; the same one is not.
        seen = (policy.evaluated_at or policy.changed_at).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        yield _event(
            EventKind.POLICY_INVALID,
            connection,
            f"{policy.account_id}:{policy.policy_type}:{seen}",
            Where(path, f"effective/{policy.account_id}:{policy.policy_type}", 5),
            title=f"Invalid effective {policy.policy_type} for account {policy.account_id}",
            body=f"AWS reports the effective {policy.policy_type} of account {policy.account_id} on "
            f"{connection.name} as invalid{' at ' + policy.validation_path if policy.validation_path else ''}.",
            data={"account_id": policy.account_id, "policy_type": policy.policy_type},
        )


def _sync_health_events(connection: AwsConnection, config: ConnectionSettings) -> Iterable[Event]:
    """A connection failing for longer than its threshold, and its recovery. SyncRun times are
    the portal's own clock, so this reads timezone.now(), not AWS's time."""
    now = timezone.now()
    finished = SyncRun.objects.filter(connection=connection).exclude(status=SyncRun.Status.RUNNING)
    latest = finished.order_by("-started_at", "-id").first()
    if latest is None:
        return
    where = Where(reverse("connection_detail", args=[connection.pk]), f"connection/{connection.pk}", 1)
    if latest.status == SyncRun.Status.FAILED:
        last_ok = finished.filter(status=SyncRun.Status.OK).order_by("-started_at", "-id").first()
        streak = finished.filter(status=SyncRun.Status.FAILED)
        if last_ok is not None:
            streak = streak.filter(started_at__gt=last_ok.started_at)
        first = streak.order_by("started_at", "id").first()
        if first is None or now - first.started_at < timedelta(seconds=config.sync_failing_after_seconds):
            return
        yield _event(
            EventKind.SYNC_FAILING,
            connection,
            str(first.pk),
            where,
            title=f"Sync of {connection.name} failing since {when(first.started_at)}",
            body=f"Every sync of {connection.name} since {when(first.started_at)} failed; pages show data "
            f"from {when(last_ok.finished_at if last_ok else None)}. Last error: {latest.error or 'unknown'}",
            data={"since": first.started_at.isoformat(), "error": latest.error},
        )
        return
    failing = Event.objects.filter(connection=connection, kind=EventKind.SYNC_FAILING).order_by("-id").first()
    since = datetime.fromisoformat(failing.data["since"]) if failing is not None else None
    if failing is not None and since is not None and latest.started_at > since:
        first_run = failing.key.rsplit(":", 1)[1]
        yield _event(
            EventKind.SYNC_RECOVERED,
            connection,
            first_run,
            where,
            title=f"Sync of {connection.name} recovered",
            body=f"{connection.name} synced again at {when(latest.finished_at)}.",
            data={"failing_since_run": first_run},
        )
