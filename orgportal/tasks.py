"""Celery tasks of the read path: thin wrappers around `orgportal.sync` (the top floor: it drives
a whole connection's sync, and what every app registered to follow it).

Beat runs `sync_all` every SYNC_INTERVAL_SECONDS; it queues one `sync_connection_task` per
enabled connection, their starts spread evenly over the interval (`sync_plan`), so many
connections sync in parallel across every worker at a steady pace. "Sync now" queues
the same task. A transient AWS failure (throttling, a 5xx, the network) retries with exponential
backoff and jitter; a refusal (bad credentials, access denied) does not — the SyncRun says why.

Tasks are acknowledged only when they end and rejected back to the queue when their worker
process dies (settings: `task_acks_late`, `task_reject_on_worker_lost`). A whole worker killed
mid-sync may take its message with it (the filesystem broker) or leave it unacknowledged until
the broker's visibility timeout (Redis), so beat also runs `reap_syncs` every
SYNC_REAPER_SECONDS: it closes the runs whose heartbeat stopped and queues their sync again.

Every sync is followed by the hooks the apps registered (`orgportal.registry.after_sync`:
notifications turns the sync's change rows into events), each failure-isolated.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import F

from . import aws, registry
from .models import AwsConnection, SyncRun
from .sync import reap_interrupted_syncs, sync_connection

log = logging.getLogger(__name__)

SCHEDULE_NAME = "orgportal: sync every connection"
REAPER_SCHEDULE_NAME = "orgportal: close interrupted syncs"


class TransientSyncError(Exception):
    """A sync failed for a reason worth retrying (kept picklable/JSON-free for Celery)."""


@shared_task(
    autoretry_for=(TransientSyncError,),
    retry_backoff=5,
    # Below the broker's visibility timeout: Redis would hand a task waiting longer to a second worker.
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def sync_connection_task(connection_id: int, manual: bool = False) -> str:
    connections = AwsConnection.objects.filter(pk=connection_id)
    if not manual:  # "Sync now" also syncs a connection whose automatic sync is paused
        connections = connections.filter(sync_enabled=True)
    connection = connections.first()
    if connection is None:
        return "skipped: no such connection, or its automatic sync is paused"
    run = sync_and_follow(connection)
    if run is None:
        return "skipped: already syncing"
    error: aws.AwsError | None = getattr(run, "aws_error", None)
    if error is not None and error.transient:
        raise TransientSyncError(error.user_message)
    return run.status


def sync_and_follow(connection: AwsConnection) -> SyncRun | None:
    """One sync of `connection`, then every registered after-sync hook (whatever the outcome:
    a failed sync matters to notifications too). None when another sync holds the connection."""
    run = sync_connection(connection)
    if run is not None:
        registry.after_sync(connection, run)
    return run


def sync_plan(interval_seconds: int) -> list[tuple[int, float]]:
    """(connection id, seconds from now) for every enabled connection, spread evenly over the
    interval, the connection synced longest ago (or never) first.

    Queued all at once, hundreds of syncs would start together at the top of every interval
    (every worker busy, then idle) and the connections at the end of the queue would wait the
    longest each time. Spread, a fleet syncs at a steady pace, and the oldest goes first: a
    connection that missed its turn (workers all busy, a failure) is served first next time.
    """
    ids = list(
        AwsConnection.objects.filter(sync_enabled=True)
        .order_by(F("last_synced_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    step = interval_seconds / len(ids) if ids else 0.0
    return [(pk, round(i * step, 3)) for i, pk in enumerate(ids)]


@shared_task
def sync_all() -> int:
    """Queue one sync per enabled connection, spread over the interval; how many were queued."""
    plan = sync_plan(_spread_window())
    for pk, countdown in plan:
        sync_connection_task.apply_async(args=[pk], countdown=countdown or None)
    return len(plan)


def _spread_window() -> int:
    """Seconds over which `sync_all` spreads the fleet: the sync interval, but on Redis below half
    the visibility timeout — a task waiting for its countdown longer than that would be handed to
    a second worker."""
    window = settings.SYNC_INTERVAL_SECONDS
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout") if settings.REDIS_URL else None
    if isinstance(visibility, int):
        window = min(window, visibility // 2)
    return window


@shared_task
def reap_syncs() -> int:
    """Close the runs of syncs that died with their worker and sync those connections again."""
    connection_ids = reap_interrupted_syncs()
    for pk in connection_ids:
        sync_connection_task.delay(pk, manual=True)  # finish what was asked, paused or not
    return len(connection_ids)


def queue_sync(connection: AwsConnection) -> None:
    """What "Sync now" does: queue the beat's task once the current transaction commits."""
    sync_connection_task.delay_on_commit(connection.pk, manual=True)


def ensure_schedule(interval_seconds: int | None = None) -> bool:
    """Put every registered beat entry in place (idempotent): `sync_all` every `interval_seconds`
    (SYNC_INTERVAL_SECONDS by default) and the rest as their apps registered them. True if
    anything changed."""
    every = {SCHEDULE_NAME: interval_seconds} if interval_seconds else None
    return registry.ensure_periodic_tasks(every=every)
