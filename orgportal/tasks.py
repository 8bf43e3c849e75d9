"""Celery tasks of the read path: thin wrappers around `orgportal.sync`.

Beat runs `sync_all` every SYNC_INTERVAL_SECONDS; it queues one `sync_connection_task` per
enabled connection, so many connections sync in parallel across every worker. "Sync now" queues
the same task. A transient AWS failure (throttling, a 5xx, the network) retries with exponential
backoff and jitter; a refusal (bad credentials, access denied) does not — the SyncRun says why.
"""

from __future__ import annotations

import json
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from . import aws
from .models import AwsConnection
from .sync import sync_connection

log = logging.getLogger(__name__)

SCHEDULE_NAME = "orgportal: sync every connection"


class TransientSyncError(Exception):
    """A sync failed for a reason worth retrying (kept picklable/JSON-free for Celery)."""


@shared_task(
    autoretry_for=(TransientSyncError,),
    retry_backoff=5,
    retry_backoff_max=300,
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
    run = sync_connection(connection)
    if run is None:
        return "skipped: already syncing"
    error: aws.AwsError | None = getattr(run, "aws_error", None)
    if error is not None and error.transient:
        raise TransientSyncError(error.user_message)
    return run.status


@shared_task
def sync_all() -> int:
    """Queue one sync per enabled connection; how many were queued."""
    ids = list(AwsConnection.objects.filter(sync_enabled=True).values_list("pk", flat=True))
    for pk in ids:
        sync_connection_task.delay(pk)
    return len(ids)


def queue_sync(connection: AwsConnection) -> None:
    """What "Sync now" does: queue the beat's task once the current transaction commits."""
    sync_connection_task.delay_on_commit(connection.pk, manual=True)


def ensure_schedule(interval_seconds: int | None = None) -> bool:
    """Create or update the beat entries for `sync_all` and the audit trail's signed checkpoint
    (idempotent); True if anything changed."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from approvals.tasks import ensure_schedule as ensure_lapse_schedule
    from audit.tasks import ensure_schedule as ensure_checkpoint_schedule

    every = interval_seconds or settings.SYNC_INTERVAL_SECONDS
    checkpoint_changed = ensure_lapse_schedule() | ensure_checkpoint_schedule()
    with transaction.atomic():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
        task, created = PeriodicTask.objects.get_or_create(
            name=SCHEDULE_NAME,
            defaults={"task": sync_all.name, "interval": schedule, "args": json.dumps([])},
        )
        if created:
            return True
        if task.interval_id != schedule.pk or task.task != sync_all.name or not task.enabled:
            task.interval = schedule
            task.task = sync_all.name
            task.enabled = True
            task.save()
            return True
    return checkpoint_changed
