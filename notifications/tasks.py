"""Celery tasks of notifications: thin wrappers around the outbox and the delivery queue.

- `notify_after_sync(connection_id)`: the outbox step after a sync (the sync task calls it, or
  queues it), then queues the delivery drain if anything new is waiting.
- `tick` (beat, every NOTIFY_TICK_SECONDS): the outbox step and the clock's reminders for every
  connection, then the drain — so events of the portal's own actions, deadlines and retries
  never wait for more than a tick.
- `deliver` drains the queue; `digest` (beat, daily at NOTIFY_DIGEST_HOUR UTC) sends digests.
"""

from __future__ import annotations

import json

from celery import shared_task
from django.conf import settings
from django.db import transaction

from orgportal.models import AwsConnection

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


def ensure_schedule(using: str = "default") -> None:
    """The beat entries of notifications, created or updated (idempotent)."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    with transaction.atomic(using=using):
        every, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=settings.NOTIFY_TICK_SECONDS, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.using(using).update_or_create(
            name=TICK_NAME, defaults={"task": tick.name, "interval": every, "crontab": None, "args": json.dumps([])}
        )
        daily, _ = CrontabSchedule.objects.using(using).get_or_create(
            minute="0", hour=str(settings.NOTIFY_DIGEST_HOUR), day_of_week="*", day_of_month="*", month_of_year="*"
        )
        PeriodicTask.objects.using(using).update_or_create(
            name=DIGEST_NAME, defaults={"task": digest.name, "crontab": daily, "interval": None, "args": json.dumps([])}
        )
