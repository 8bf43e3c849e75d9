"""Celery task of two-person approval: lapse what no longer stands (beat), and its beat entry."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from .services import lapse_due

SCHEDULE_NAME = "approvals: lapse requests that no longer stand"
LAPSE_EVERY_SECONDS = 300


@shared_task
def lapse_requests() -> int:
    """Lapse pending requests past their answer-by moment or made moot in AWS; how many."""
    return lapse_due(refresh=True)


def ensure_schedule(interval_seconds: int = LAPSE_EVERY_SECONDS) -> bool:
    """Create or update the beat entry for `lapse_requests` (idempotent); True if anything changed."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    with transaction.atomic():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=interval_seconds, period=IntervalSchedule.SECONDS)
        task, created = PeriodicTask.objects.get_or_create(
            name=SCHEDULE_NAME, defaults={"task": lapse_requests.name, "interval": schedule}
        )
        if created:
            return True
        if task.interval_id != schedule.pk or task.task != lapse_requests.name or not task.enabled:
            task.interval, task.task, task.enabled = schedule, lapse_requests.name, True
            task.save()
            return True
    return False
