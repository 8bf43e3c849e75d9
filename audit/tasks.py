"""Celery tasks of the audit trail: the periodic signed checkpoint (its beat entry: `apps.py`)."""

from __future__ import annotations

import logging

from celery import shared_task

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
