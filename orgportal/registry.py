"""What the apps hand the foundation to drive, so that the foundation never imports them.

Each app registers in its `AppConfig.ready()` (Django's place for it: every app's models are
loaded by then):

- its **sync area** (`SyncArea`): the list calls worth reading ahead and the function that
  writes them; `orgportal.sync.sync_connection` walks the areas in `order` (accounts 10,
  handshakes 20, transfers 30, policies 40: the order the sync always had);
- what **follows every sync** of a connection (`register_after_sync`): notifications turns the
  change rows the sync wrote into events. `after_sync` runs each hook on its own: a hook that
  fails is logged and never fails the sync or the hooks after it;
- its **periodic tasks** (`Periodic`): beat's entries. `ensure_periodic_tasks` puts every
  registered entry in place (after every migrate, and from `manage.py ensure_schedule`).

The write path's gates (two-person approval) are registered the same way, with
`orgportal.writepath.register_gate`, beside the code that asks them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from .models import AwsConnection, SyncRun

log = logging.getLogger(__name__)

ListCall = tuple[str, str, dict[str, Any]]  # (operation, result key, params)


def _no_lists(connection: AwsConnection) -> list[ListCall]:
    return []


@dataclass(frozen=True)
class SyncArea:
    """One app's part of a connection's sync."""

    name: str
    order: int
    # sync(connection, client, run, counts): read this area's lists and write its rows, adding to
    # the engine's `orgportal.sync.Counts` (typed Any here: the engine imports this module).
    sync: Callable[[AwsConnection, Any, SyncRun | None, Any], None]
    # The list calls to start paging at the beginning of the sync (read ahead, written in turn).
    lists: Callable[[AwsConnection], list[ListCall]] = _no_lists


@dataclass(frozen=True)
class Periodic:
    """One beat entry: `task` every `every()` seconds, or daily at `daily_at_hour()` UTC.

    Callables, so the settings are read when the entry is put in place, not at start-up."""

    name: str
    task: str
    every: Callable[[], int] | None = None
    daily_at_hour: Callable[[], int] | None = None


AfterSync = Callable[[AwsConnection, SyncRun], object]  # what it returns is not used

# Keyed by name: registering again (a second ready(), a test) replaces, never doubles.
_areas: dict[str, SyncArea] = {}
_after_sync: dict[str, AfterSync] = {}
_periodic: dict[str, Periodic] = {}


def register_sync_area(area: SyncArea) -> None:
    _areas[area.name] = area


def sync_areas() -> list[SyncArea]:
    return sorted(_areas.values(), key=lambda area: (area.order, area.name))


def register_after_sync(name: str, hook: AfterSync) -> None:
    _after_sync[name] = hook


def unregister_after_sync(name: str) -> None:
    _after_sync.pop(name, None)


def after_sync(connection: AwsConnection, run: SyncRun) -> None:
    """Run every hook that follows a sync of `connection`; a failing hook is logged, not raised."""
    for name, hook in list(_after_sync.items()):
        try:
            hook(connection, run)
        except Exception:
            log.exception("after the sync of connection %s: %r failed", connection.pk, name)


def register_periodic(entry: Periodic) -> None:
    _periodic[entry.name] = entry


def periodic_tasks() -> list[Periodic]:
    return list(_periodic.values())


def ensure_periodic_tasks(*, every: dict[str, int] | None = None, using: str = "default") -> bool:
    """Create or update beat's entry for every registered periodic task (idempotent). `every`
    overrides an interval by entry name. True if anything changed."""
    changed = False
    with transaction.atomic(using=using):
        for entry in _periodic.values():
            changed |= _ensure(entry, (every or {}).get(entry.name), using)
    return changed


def _ensure(entry: Periodic, seconds: int | None, using: str) -> bool:
    interval: IntervalSchedule | None = None
    crontab: CrontabSchedule | None = None
    if entry.daily_at_hour is not None:
        crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
            minute="0",
            hour=str(entry.daily_at_hour()),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
        )
    else:
        assert entry.every is not None, f"{entry.name}: neither an interval nor an hour"
        interval, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=seconds or entry.every(), period=IntervalSchedule.SECONDS
        )
    wanted: dict[str, Any] = {
        "task": entry.task,
        "enabled": True,
        "interval_id": interval.pk if interval else None,
        "crontab_id": crontab.pk if crontab else None,
    }
    task = PeriodicTask.objects.using(using).filter(name=entry.name).first()
    if task is None:
        PeriodicTask.objects.using(using).create(name=entry.name, args="[]", **wanted)
        return True
    if all(getattr(task, field) == value for field, value in wanted.items()):
        return False
    for field, value in wanted.items():
        setattr(task, field, value)
    task.save(using=using)
    return True
