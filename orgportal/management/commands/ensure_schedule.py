"""`manage.py ensure_schedule`: put every beat entry the apps registered in place (the sync of every
connection every SYNC_INTERVAL_SECONDS, or `--every`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from orgportal.tasks import ensure_schedule


class Command(BaseCommand):
    help = "Create (or update) every django-celery-beat entry the apps registered. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=settings.SYNC_INTERVAL_SECONDS, help="seconds")

    def handle(self, *args: Any, every: int, **options: Any) -> None:
        changed = ensure_schedule(every)
        self.stdout.write(f"sync schedule: every {every} s ({'updated' if changed else 'unchanged'})")
