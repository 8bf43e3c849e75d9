"""Celery tasks of notifications: thin wrappers around the outbox and the delivery queue.

- `after_sync(connection, run)`: the outbox step that follows every sync of a connection
  (registered in `apps.py`, run by the sync task), then the delivery drain queued if anything new
  is waiting; `notify_after_sync(connection_id)` is the same step as a task of its own.
- `tick` (beat, every NOTIFY_TICK_SECONDS): the outbox step and the clock's reminders for every
  connection, then the drain — so events of the portal's own actions, deadlines and retries
  never wait for more than a tick.
- `deliver` drains the queue; `digest` (beat, daily at NOTIFY_DIGEST_HOUR UTC) sends digests.
"""

from __future__ import annotations

from celery import shared_task

from orgportal.models import AwsConnection, SyncRun

from .delivery import deliver_due, send_digests
from .outbox import process_connection, remind

TICK_NAME = "notifications: events, reminders and deliveries"
DIGEST_NAME = "notifications: daily digest"


@shared_task
def deliver() -> int:
    return deliver_due().sent


@shared_task
def notify_after_sync(connection_id: int) -> int:
    connection = AwsConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return 0
    return after_sync(connection)


def after_sync(connection: AwsConnection, run: SyncRun | None = None) -> int:
    """The change rows the sync just wrote become events now, not at the next tick; new events."""
    outcome = process_connection(connection)
    if outcome.deliveries:
        deliver.delay_on_commit()
    return outcome.events


@shared_task
def tick() -> int:
    events = 0
    for connection in AwsConnection.objects.all():
        events += process_connection(connection).events
        events += remind(connection).events
    deliver_due()
    return events


@shared_task
def digest() -> int:
    return send_digests()
