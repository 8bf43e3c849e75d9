"""The one registry: the apps hand the foundation their sync areas and beat entries in
`AppConfig.ready()`, and the foundation walks what is registered (it imports no feature app)."""

from __future__ import annotations

from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from orgportal import registry
from orgportal.celery import app
from orgportal.models import AwsConnection, SyncRun
from orgportal.sync import sync_connection
from orgportal.tasks import ensure_schedule

BEAT_ENTRIES = {
    "orgportal: sync every connection": "orgportal.tasks.sync_all",
    "orgportal: close interrupted syncs": "orgportal.tasks.reap_syncs",
    "audit: signed checkpoint": "audit.tasks.checkpoint",
    "approvals: lapse requests that no longer stand": "approvals.tasks.lapse_requests",
    "notifications: events, reminders and deliveries": "notifications.tasks.tick",
    "notifications: daily digest": "notifications.tasks.digest",
}


def test_the_sync_walks_the_areas_in_the_order_it_always_had() -> None:
    assert [area.name for area in registry.sync_areas()] == ["accounts", "handshakes", "transfers", "policies"]


def test_a_sync_reads_every_registered_area(orgsim: Any, sim_connection: AwsConnection) -> None:
    run = sync_connection(sim_connection)
    assert run is not None and run.status == SyncRun.Status.OK
    served = orgsim.calls()["by_operation"]
    for operation in ("ListAccounts", "ListHandshakesForAccount", "ListInboundResponsibilityTransfers", "ListRoots"):
        assert served.get(operation), operation


@pytest.mark.django_db
def test_one_function_puts_every_apps_beat_entry_in_place(settings: Any) -> None:
    PeriodicTask.objects.all().delete()
    settings.NOTIFY_DIGEST_HOUR = 6

    assert ensure_schedule() is True
    assert ensure_schedule() is False

    entries = {task.name: task for task in PeriodicTask.objects.all()}
    assert {name: task.task for name, task in entries.items()} == BEAT_ENTRIES
    assert all(task.enabled for task in entries.values())
    assert entries["notifications: daily digest"].crontab.hour == "6"
    assert entries["notifications: daily digest"].interval is None
    assert entries["audit: signed checkpoint"].interval.every == settings.AUDIT_CHECKPOINT_SECONDS


@pytest.mark.django_db
def test_a_disabled_or_moved_entry_is_put_back(settings: Any) -> None:
    ensure_schedule()
    PeriodicTask.objects.filter(name="notifications: events, reminders and deliveries").update(enabled=False)
    settings.NOTIFY_DIGEST_HOUR = 9
    assert ensure_schedule() is True
    tick = PeriodicTask.objects.get(name="notifications: events, reminders and deliveries")
    assert tick.enabled and tick.interval.every == settings.NOTIFY_TICK_SECONDS
    assert PeriodicTask.objects.get(name="notifications: daily digest").crontab.hour == "9"


def test_every_registered_beat_entry_names_a_real_task() -> None:
    app.loader.import_default_modules()
    names = {entry.task for entry in registry.periodic_tasks()}
    assert names == set(BEAT_ENTRIES.values())
    assert names <= set(app.tasks)
