"""App config for notifications: keeps its beat entries in place after every migrate."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The schedule is configuration, not data: every migrate (make run, a deploy) puts it in
        # place, so nobody has to remember a second command.
        post_migrate.connect(_ensure_schedule, sender=self)


def _ensure_schedule(**kwargs: Any) -> None:
    from .tasks import ensure_schedule

    ensure_schedule(using=kwargs.get("using", "default"))
