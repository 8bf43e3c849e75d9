"""Celery tasks of the read path: thin wrappers around `orgportal.sync` (the top floor: it drives
a whole connection's sync, and what every app registered to follow it).

Beat runs `sync_all` every SYNC_INTERVAL_SECONDS; it queues one `sync_connection_task` per
enabled connection, so many connections sync in parallel across every worker. "Sync now" queues
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


@shared_task
def sync_all() -> int:
    """Queue one sync per enabled connection; how many were queued."""
    ids = list(AwsConnection.objects.filter(sync_enabled=True).values_list("pk", flat=True))
    for pk in ids:
        sync_connection_task.delay(pk)
    return len(ids)


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
