"""Celery task of two-person approval: lapse what no longer stands (beat; registered in `apps.py`)."""

from __future__ import annotations

from celery import shared_task

from .services import lapse_due

SCHEDULE_NAME = "approvals: lapse requests that no longer stand"
LAPSE_EVERY_SECONDS = 300


@shared_task
def lapse_requests() -> int:
    """Lapse pending requests past their answer-by moment or made moot in AWS; how many."""
    return lapse_due(refresh=True)
