"""Celery tasks of the audit trail: the periodic signed checkpoint, and its beat entry."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from .checkpoints import read
from .models import AuditChainHead
from .verify import ChainBroken, checkpoint_now, describe

log = logging.getLogger(__name__)

SCHEDULE_NAME = "audit: signed checkpoint"


@shared_task
def checkpoint() -> str:
    """Sign and publish the chain's head if it moved since the latest checkpoint."""
    signed, _ = read()
    head = AuditChainHead.objects.filter(pk=1).values_list("last_id", "last_hash").first()
    if head is None or (signed and (signed[-1].seq, signed[-1].hash) == head):
        return "unchanged"
    try:
        return describe(checkpoint_now())
    except ChainBroken as broken:
        # Loud, and no signature over it: the next audit_verify names the same row.
        log.error("Audit chain broken, no checkpoint signed: %s", broken.problem.message)
        return f"broken: {broken.problem.message}"


def ensure_schedule(interval_seconds: int | None = None) -> bool:
    """Create or update the beat entry for `checkpoint` (idempotent); True if anything changed."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = interval_seconds or settings.AUDIT_CHECKPOINT_SECONDS
    with transaction.atomic():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
        task, created = PeriodicTask.objects.get_or_create(
            name=SCHEDULE_NAME, defaults={"task": checkpoint.name, "interval": schedule}
        )
        if created:
            return True
        if task.interval_id != schedule.pk or task.task != checkpoint.name or not task.enabled:
            task.interval, task.task, task.enabled = schedule, checkpoint.name, True
            task.save()
            return True
    return False
