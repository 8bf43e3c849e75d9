"""The read path: AWS pages in, database rows out, for one connection at a time.

`sync_connection(connection)` claims the connection (a conditional UPDATE: one sync per
connection at a time, across processes and hosts), reads the organization through the gateway,
then walks the sync areas the apps registered (`orgportal.registry`: the accounts here, then
handshakes, transfers and policies), which upsert with the one generic engine here (`Upsert`).
The feature apps' `sync.py` only say which lists to read and how an AWS dict becomes row fields;
this module imports none of them.

The engine's rules:
- a row is written only when the fingerprint of its AWS fields changes; an unchanged sync
  writes nothing (the existing fingerprints come from one query, compared in memory);
- every observed change becomes a history row (`field: [old, new]`) and an audit event with
  actor "AWS", in the same short transaction as the rows, one transaction per page — so a sync
  cut off midway leaves consistent data and the next run simply completes it;
- a row AWS no longer lists is marked vanished (never deleted), and only after every page of
  its lists was read — a partial list never vanishes anything;
- the next page is fetched from AWS while the current one is written (a small prefetch thread),
  so database work hides behind network latency.

A sync that dies (a SIGKILLed or lost worker) cannot clean up after itself, so a running sync
beats: at most every SYNC_HEARTBEAT_SECONDS, whenever it gets control (a page written, or while
it waits for one), it refreshes its claim and its run's `heartbeat_at`. A claim silent for
SYNC_CLAIM_TIMEOUT_SECONDS is abandoned: the next sync takes it and closes the dead run as
"interrupted", and beat's reaper (`reap_interrupted_syncs`) does the same for connections nobody
syncs, so their sync can be queued again at once. A sync whose claim was taken over that way
stops at its next beat. Each sync has its own retry budget (`aws.retry_budget`).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.events import record_many

from . import aws, bulk, registry
from .history import CachedAwsObject, ObservedChange
from .models import Account, AwsConnection, SyncRun

log = logging.getLogger(__name__)

Kind = ObservedChange.Kind


# --- the generic engine -----------------------------------------------------------------------


CachedT = TypeVar("CachedT", bound=CachedAwsObject)


@dataclass(frozen=True)
class Mirror(Generic[CachedT]):
    """How one kind of AWS object is cached: its model, key, tracked fields and history model."""

    kind: str  # "transfer", "handshake", "account": names audit actions and resources
    model: type[CachedT]
    key_field: str
    fields: tuple[str, ...]  # every field the AWS dict fills (the key included)
    change_model: type[models.Model] | None = None
    change_fk: str = ""  # the change model's foreign key to `model`


@dataclass(slots=True)
class Counts:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    vanished: int = 0


def to_json(value: Any) -> Any:
    """A field value in the form history and fingerprints store (UTC ISO timestamps)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def normalize(value: Any) -> Any:
    # botocore parses timestamps in the local zone; the database gives back UTC.
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def fingerprint(values: dict[str, Any], fields: Iterable[str]) -> str:
    payload = json.dumps([to_json(values.get(name)) for name in fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class Upsert:
    """Upserts the pages of one kind of object for one connection during one sync run."""

    def __init__(self, mirror: Mirror[Any], connection: AwsConnection, run: SyncRun | None, counts: Counts) -> None:
        self.mirror = mirror
        self.connection = connection
        self.run = run
        self.counts = counts
        manager = mirror.model._default_manager
        # One query: key -> (pk, fingerprint, vanished_at). Pages compare against this in memory.
        self.known: dict[str, tuple[int, str, datetime | None]] = {
            key: (pk, fp, vanished)
            for pk, key, fp, vanished in manager.filter(connection=connection).values_list(
                "pk", mirror.key_field, "fingerprint", "vanished_at"
            )
        }
        self.seen: set[str] = set()

    def page(self, rows: Iterable[dict[str, Any]]) -> None:
        """Apply one page of mapped rows (dicts of `mirror.fields`)."""
        beat()
        mirror = self.mirror
        new: list[tuple[dict[str, Any], str]] = []
        changed: list[tuple[int, dict[str, Any], str, bool]] = []
        for raw in rows:
            values = {name: normalize(raw.get(name)) for name in mirror.fields}
            key = values[mirror.key_field]
            if key in self.seen:  # listed twice (e.g. by account and by organization): first wins
                continue
            self.seen.add(key)
            digest = fingerprint(values, mirror.fields)
            known = self.known.get(key)
            if known is None:
                new.append((values, digest))
            elif known[1] != digest or known[2] is not None:
                changed.append((known[0], values, digest, known[2] is not None))
            else:
                self.counts.unchanged += 1
        if new or changed:
            with transaction.atomic():
                self._write(new, changed)

    def _write(
        self, new: list[tuple[dict[str, Any], str]], changed: list[tuple[int, dict[str, Any], str, bool]]
    ) -> None:
        mirror = self.mirror
        model = mirror.model
        manager = model._default_manager
        now = timezone.now()
        history: list[tuple[int, str, dict[str, Any]]] = []  # (pk, kind, changes)
        audit: list[dict[str, Any]] = []

        if new:
            objs = [
                model(
                    connection=self.connection,
                    fingerprint=digest,
                    first_seen_at=now,
                    changed_at=now,
                    **values,
                )
                for values, digest in new
            ]
            bulk.insert(objs, ids_by=mirror.key_field, scope={"connection": self.connection})
            for obj, (values, digest) in zip(objs, new, strict=True):
                key = values[mirror.key_field]
                self.known[key] = (obj.pk, digest, None)
                # What it was when first seen; nested lists (parties, resources) stay on the row.
                fields = {
                    name: to_json(values[name])
                    for name in mirror.fields
                    if name != mirror.key_field and not isinstance(values[name], (list, dict))
                }
                history.append((obj.pk, Kind.CREATED, fields))
                audit.append(self._event(f"{mirror.kind}.created", key, fields))
            self.counts.created += len(new)

        if changed:
            current: dict[Any, Any] = manager.in_bulk([pk for pk, *_ in changed])
            updated = []
            for pk, values, digest, reappeared in changed:
                obj = current[pk]
                diff = {
                    name: [to_json(getattr(obj, name)), to_json(values[name])]
                    for name in mirror.fields
                    if to_json(getattr(obj, name)) != to_json(values[name])
                }
                for name, value in values.items():
                    setattr(obj, name, value)
                obj.fingerprint = digest
                obj.vanished_at = None
                if diff:
                    obj.changed_at = now
                updated.append(obj)
                key = values[mirror.key_field]
                self.known[key] = (pk, digest, None)
                kind = Kind.REAPPEARED if reappeared else Kind.CHANGED
                history.append((pk, kind, diff))
                audit.append(self._event(f"{mirror.kind}.{kind}", key, {"changes": diff}))
            manager.bulk_update(updated, [*mirror.fields, "fingerprint", "vanished_at", "changed_at"], batch_size=500)
            self.counts.changed += len(changed)

        self._history_and_audit(history, audit, now)

    def finish(self) -> None:
        """Every list of this kind was read to the end: mark what AWS no longer lists."""
        gone = [(key, pk) for key, (pk, _, vanished) in self.known.items() if key not in self.seen and vanished is None]
        if not gone:
            return
        now = timezone.now()
        with transaction.atomic():
            self.mirror.model._default_manager.filter(pk__in=[pk for _, pk in gone]).update(vanished_at=now)
            history: list[tuple[int, str, dict[str, Any]]] = [(pk, Kind.VANISHED, {}) for _, pk in gone]
            audit = [self._event(f"{self.mirror.kind}.vanished", key, {}) for key, _ in gone]
            self._history_and_audit(history, audit, now)
        for key, pk in gone:
            self.known[key] = (pk, self.known[key][1], now)
        self.counts.vanished += len(gone)

    def _event(self, action: str, key: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "action": action,
            "actor_label": "AWS",
            "connection": self.connection,
            "resource": f"{self.mirror.kind}/{key}",
            "params": params,
        }

    def _history_and_audit(
        self, history: list[tuple[int, str, dict[str, Any]]], audit: list[dict[str, Any]], now: datetime
    ) -> None:
        mirror = self.mirror
        if mirror.change_model is not None and history:
            bulk.insert(
                [
                    mirror.change_model(
                        **{f"{mirror.change_fk}_id": pk},
                        connection=self.connection,
                        observed_at=now,
                        kind=kind,
                        changes=changes,
                        sync_run=self.run,
                    )
                    for pk, kind, changes in history
                ]
            )
        if audit:
            record_many(audit)


class PageStream:
    """One list call paged to the end in a background thread, pages queued for the writer.

    The thread only talks to AWS (never to the database) and runs in a copy of the caller's
    context, so the gateway's call statistics land in the same SyncRun. When the database falls
    behind, the pages already waiting (up to `batch`) are handed over together and written in one
    transaction instead of one each.
    """

    _done = object()

    def __init__(self, client: Any, operation: str, result_key: str, *, depth: int, **params: Any) -> None:
        self.buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        pages = aws.iter_pages(client, operation, result_key, **params)
        context = contextvars.copy_context()
        self.thread = threading.Thread(
            target=context.run, args=(self._produce, pages), daemon=True, name=f"aws-{operation}"
        )
        self.thread.start()

    def _produce(self, pages: Iterator[list[dict[str, Any]]]) -> None:
        try:
            for page in pages:
                if self.stopping.is_set():
                    return
                self.buffer.put(page)
            self.buffer.put(self._done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.buffer.put(exc)

    def batches(self, batch: int = 10) -> Iterator[list[dict[str, Any]]]:
        try:
            finished = False
            while not finished:
                item = self._next()
                if item is self._done:
                    return
                if isinstance(item, BaseException):
                    raise item
                merged = list(item)
                failure: BaseException | None = None
                for _ in range(batch - 1):
                    try:
                        more = self.buffer.get_nowait()
                    except queue.Empty:
                        break
                    if more is self._done:
                        finished = True
                        break
                    if isinstance(more, BaseException):
                        failure = more
                        break
                    merged.extend(more)
                yield merged  # what arrived before a failure is still written
                if failure is not None:
                    raise failure
        finally:
            self.close()

    def _next(self) -> Any:
        # A slow or throttled list keeps the writer waiting here: it still beats meanwhile.
        while True:
            try:
                return self.buffer.get(timeout=1.0)
            except queue.Empty:
                beat()

    def close(self) -> None:
        self.stopping.set()
        # Unblock a producer waiting on a full buffer, then let it end.
        while self.thread.is_alive():
            try:
                self.buffer.get_nowait()
            except queue.Empty:
                self.thread.join(timeout=0.05)


# Lists started ahead of time by the running sync (see `read_ahead`), by (operation, params).
_ahead: contextvars.ContextVar[dict[tuple[str, str], PageStream] | None] = contextvars.ContextVar(
    "orgportal_sync_ahead", default=None
)
AHEAD_DEPTH = 500  # pages a list read ahead may hold while an earlier list is being written


def _ahead_key(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    return operation, json.dumps(params, sort_keys=True, default=str)


@contextmanager
def read_ahead(client: Any, lists: Iterable[tuple[str, str, dict[str, Any]]]) -> Iterator[None]:
    """Start paging `lists` now, all at once, so later lists arrive while earlier ones are written.

    `sync_list` takes a started list from here instead of starting it again. Whatever is not
    consumed (a failure cut the sync short) is stopped on exit.
    """
    streams = {
        _ahead_key(operation, params): PageStream(client, operation, result_key, depth=AHEAD_DEPTH, **params)
        for operation, result_key, params in lists
    }
    token = _ahead.set(streams)
    try:
        yield
    finally:
        _ahead.reset(token)
        for stream in streams.values():
            stream.close()


def sync_list(
    upsert: Upsert,
    client: Any,
    operation: str,
    result_key: str,
    mapper: Callable[[dict[str, Any]], dict[str, Any]],
    **params: Any,
) -> None:
    """Page one list call to the end, upserting pages as they arrive."""
    started = _ahead.get() or {}
    stream = started.pop(_ahead_key(operation, params), None)
    if stream is None:
        stream = PageStream(client, operation, result_key, depth=8, **params)
    for page in stream.batches():
        upsert.page(mapper(item) for item in page)


# --- accounts ---------------------------------------------------------------------------------

ACCOUNT = Mirror(
    kind="account",
    model=Account,
    key_field="account_id",
    fields=("account_id", "name", "email", "status", "joined_at"),
)


def account_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": item["Id"],
        "name": item.get("Name", ""),
        "email": item.get("Email", ""),
        "status": item.get("State") or item.get("Status", ""),
        "joined_at": item.get("JoinedTimestamp"),
    }


def account_lists(connection: AwsConnection) -> list[registry.ListCall]:
    return [("ListAccounts", "Accounts", {})]


def sync_accounts(connection: AwsConnection, client: Any, run: SyncRun | None, counts: Counts) -> None:
    """The foundation's own area: the organization's accounts (registered in `apps.py`)."""
    upsert = Upsert(ACCOUNT, connection, run, counts)
    sync_list(upsert, client, "ListAccounts", "Accounts", account_row)
    upsert.finish()


# --- one connection ---------------------------------------------------------------------------


INTERRUPTED_ERROR = (
    "The sync stopped before it finished (its worker was stopped or lost). The next sync reads everything again."
)
TAKEN_OVER_ERROR = "This sync went silent for too long and another sync of the connection took over."


def _abandoned_before() -> datetime:
    """A claim (or a run) whose last beat is older than this belongs to a sync that died."""
    return timezone.now() - timedelta(seconds=settings.SYNC_CLAIM_TIMEOUT_SECONDS)


def claim(connection: AwsConnection) -> datetime | None:
    """Claim `connection` for a sync; the claim time, or None when another sync holds it.

    `sync_claimed_at` is the holder's last heartbeat, so a claim left by a killed worker is free
    again SYNC_CLAIM_TIMEOUT_SECONDS after its last beat.
    """
    stale = _abandoned_before()
    now = timezone.now()
    won = (
        AwsConnection.objects.filter(pk=connection.pk)
        .filter(Q(sync_claimed_at__isnull=True) | Q(sync_claimed_at__lt=stale))
        .update(sync_claimed_at=now)
    )
    return now if won == 1 else None


def release(connection: AwsConnection, claimed_at: datetime) -> None:
    # Only our own claim: after a timeout another sync may have taken over.
    AwsConnection.objects.filter(pk=connection.pk, sync_claimed_at=claimed_at).update(sync_claimed_at=None)


def close_interrupted(runs: models.QuerySet[SyncRun]) -> int:
    """Close `runs` still marked running as interrupted, as of their last beat; how many."""
    return runs.filter(status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.INTERRUPTED,
        finished_at=Coalesce(F("heartbeat_at"), F("started_at")),
        error=INTERRUPTED_ERROR,
    )


def reap_interrupted_syncs() -> list[int]:
    """Close the runs of syncs that died and free their claims; their connections' ids.

    A run is dead when both its own beat and its connection's claim are older than the timeout
    (a live sync refreshes both). Beat runs this every SYNC_REAPER_SECONDS and queues the
    connections' syncs again, so a killed sync is finished by another worker within about
    SYNC_CLAIM_TIMEOUT_SECONDS + SYNC_REAPER_SECONDS, whatever the broker did with its message.
    """
    stale = _abandoned_before()
    dead = (
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING)
        .filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale))
        .filter(Q(connection__sync_claimed_at__isnull=True) | Q(connection__sync_claimed_at__lt=stale))
    )
    found = dict(dead.values_list("pk", "connection_id"))
    if not found:
        return []
    close_interrupted(SyncRun.objects.filter(pk__in=list(found)))
    connection_ids = sorted(set(found.values()))
    connections = AwsConnection.objects.filter(pk__in=connection_ids)
    connections.update(last_sync_ok=False, last_sync_error=INTERRUPTED_ERROR)
    connections.filter(sync_claimed_at__lt=stale).update(sync_claimed_at=None)
    log.warning("closed interrupted syncs of connections %s", connection_ids)
    return connection_ids


class ClaimLost(Exception):
    """The running sync's claim was taken over (it went silent longer than the timeout)."""


class Heartbeat:
    """Keeps one running sync's claim and run visibly alive (see the module docstring)."""

    def __init__(self, connection: AwsConnection, run: SyncRun, claimed_at: datetime) -> None:
        self.connection, self.run, self.claimed_at = connection, run, claimed_at
        self.every = settings.SYNC_HEARTBEAT_SECONDS
        self.due = time.monotonic() + self.every
        # Database work stays on the sync's own thread (the page readers only talk to AWS).
        self.thread = threading.get_ident()

    def beat(self) -> None:
        if threading.get_ident() != self.thread or time.monotonic() < self.due:
            return
        now = timezone.now()
        kept = AwsConnection.objects.filter(pk=self.connection.pk, sync_claimed_at=self.claimed_at).update(
            sync_claimed_at=now
        )
        if kept != 1:
            raise ClaimLost(f"connection {self.connection.pk}: the sync claim was taken over")
        self.claimed_at = now
        SyncRun.objects.filter(pk=self.run.pk).update(heartbeat_at=now)
        self.run.heartbeat_at = now
        self.due = time.monotonic() + self.every


_heartbeat: contextvars.ContextVar[Heartbeat | None] = contextvars.ContextVar("orgportal_sync_heartbeat", default=None)


def beat() -> None:
    """Refresh the running sync's heartbeat when one is due (cheap otherwise; no-op outside a sync)."""
    heartbeat = _heartbeat.get()
    if heartbeat is not None:
        heartbeat.beat()


IDENTITY_FIELDS = (
    "account_id",
    "account_email",
    "organization_id",
    "organization_arn",
    "feature_set",
    "management_account_id",
    "management_account_email",
)


def identity_from(organization: dict[str, Any], caller: dict[str, Any] | None) -> dict[str, str]:
    """The connection's identity fields from DescribeOrganization (and DescribeAccount)."""
    management_id = organization.get("MasterAccountId", "")
    return {
        "account_id": (caller or {}).get("Id", management_id),
        "account_email": (caller or {}).get("Email", organization.get("MasterAccountEmail", "")),
        "organization_id": organization.get("Id", ""),
        "organization_arn": organization.get("Arn", ""),
        "feature_set": organization.get("FeatureSet", ""),
        "management_account_id": management_id,
        "management_account_email": organization.get("MasterAccountEmail", ""),
    }


def save_identity(connection: AwsConnection, identity: dict[str, str]) -> None:
    """Write the identity fields only when they differ (an unchanged sync writes nothing)."""
    changed = {name: value for name, value in identity.items() if getattr(connection, name) != value}
    if changed:
        AwsConnection.objects.filter(pk=connection.pk).update(**changed)
        for name, value in changed.items():
            setattr(connection, name, value)


def sync_connection(connection: AwsConnection) -> SyncRun | None:
    """One sync of `connection`; its SyncRun, or None when another sync of it is under way.

    AWS failures are recorded on the SyncRun (`status` failed, `error` in plain words) and on the
    connection; the AwsError is kept on `run.aws_error` so the task can decide to retry. A sync
    whose claim was taken over ends "interrupted" and leaves the connection to the new holder.
    Anything else is a bug: recorded, then raised.
    """
    claimed_at = claim(connection)
    if claimed_at is None:
        log.info("connection %s is already being synced; skipped", connection.pk)
        return None
    # We hold the claim, so any run of this connection still open belongs to a sync that died.
    close_interrupted(SyncRun.objects.filter(connection=connection))
    run = SyncRun.objects.create(connection=connection, started_at=claimed_at, heartbeat_at=claimed_at)
    run.aws_error = None  # type: ignore[attr-defined]
    heartbeat = Heartbeat(connection, run, claimed_at)
    beating = _heartbeat.set(heartbeat)
    counts = Counts()
    started = time.monotonic()
    failure: BaseException | None = None
    try:
        with aws.recording() as stats, aws.retry_budget(rounds=settings.SYNC_RETRY_ROUNDS):
            try:
                client = aws.client_for(connection, "read")
                organization = aws.call(client, "DescribeOrganization").data["Organization"]
                save_identity(connection, identity_from(organization, caller=None))
                # Every area's lists are paged at once; each is written as it arrives, area by area.
                areas = registry.sync_areas()
                lists = [call for area in areas for call in area.lists(connection)]
                with read_ahead(client, lists):
                    for area in areas:
                        area.sync(connection, client, run, counts)
            finally:
                run.calls, run.pages, run.retries, run.throttles = (
                    stats.calls,
                    stats.pages,
                    stats.retries,
                    stats.throttles,
                )
    except aws.AwsError as exc:
        failure = exc
        run.aws_error = exc  # type: ignore[attr-defined]
        run.error = f"{exc.user_message} ({exc.code}{', request ' + exc.request_id if exc.request_id else ''})"
    except ClaimLost as exc:
        failure = exc
        run.error = TAKEN_OVER_ERROR
    except BaseException as exc:
        failure = exc
        run.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        log.exception("sync of connection %s failed", connection.pk)
    finally:
        _heartbeat.reset(beating)
        run.created, run.changed = counts.created, counts.changed
        run.unchanged, run.vanished = counts.unchanged, counts.vanished
        if isinstance(failure, ClaimLost):
            run.status = SyncRun.Status.INTERRUPTED
        else:
            run.status = SyncRun.Status.FAILED if failure is not None else SyncRun.Status.OK
        run.finished_at = timezone.now()
        run.save()
        if not isinstance(failure, ClaimLost):  # the connection's outcome is the new holder's to write
            outcome: dict[str, Any] = {
                "last_sync_ok": failure is None,
                "last_sync_error": run.error,
            }
            if failure is None:
                outcome["last_synced_at"] = run.finished_at
            AwsConnection.objects.filter(pk=connection.pk).update(**outcome)
            for name, value in outcome.items():
                setattr(connection, name, value)
            release(connection, heartbeat.claimed_at)
        log.info(
            "synced connection %s in %.2fs: %s (%d calls, %d pages, +%d ~%d =%d -%d)",
            connection.pk,
            time.monotonic() - started,
            run.status,
            run.calls,
            run.pages,
            run.created,
            run.changed,
            run.unchanged,
            run.vanished,
        )
    if failure is not None and not isinstance(failure, (aws.AwsError, ClaimLost)):
        raise failure
    return run
