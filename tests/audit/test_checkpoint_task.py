"""The periodic checkpoint: beat runs it, it signs only a head that moved, never a broken chain."""

from __future__ import annotations

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from audit import checkpoints, guard
from audit.events import record
from audit.tasks import SCHEDULE_NAME, checkpoint
from orgportal.tasks import ensure_schedule

pytestmark = pytest.mark.django_db


def test_beat_runs_the_checkpoint_every_audit_checkpoint_seconds(settings):
    settings.AUDIT_CHECKPOINT_SECONDS = 30
    assert ensure_schedule() is True
    assert ensure_schedule() is False
    task = PeriodicTask.objects.get(name=SCHEDULE_NAME)
    assert (task.task, task.interval.every, task.enabled) == ("audit.tasks.checkpoint", 30, True)


def test_the_portals_schedule_includes_the_checkpoint():
    ensure_schedule(300)
    assert PeriodicTask.objects.filter(name=SCHEDULE_NAME, enabled=True).exists()


def test_the_task_signs_a_head_that_moved_and_skips_one_that_did_not():
    record(action="login", actor_label="system")
    assert checkpoint().startswith("Checkpoint 1: row")
    assert checkpoint() == "unchanged"
    record(action="logout", actor_label="system")
    assert checkpoint().startswith("Checkpoint 2: row")
    assert len(checkpoints.read()[0]) == 2


def test_the_task_refuses_to_sign_a_broken_chain(caplog):
    event = record(action="login", actor_label="system")
    guard.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'logout' WHERE id = %s", [event.pk])
    assert checkpoint().startswith(f"broken: Row {event.pk} was edited")
    assert checkpoints.read() == ([], [])
    assert "no checkpoint signed" in caplog.text
