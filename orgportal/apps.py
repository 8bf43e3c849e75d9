"""App config of the project app: registers the foundation's own sync area and beat entries,
and puts every app's beat entries in place after each migrate."""

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.models.signals import post_migrate


class OrgportalConfig(AppConfig):
    name = "orgportal"
    verbose_name = "orgportal"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from django_celery_beat.models import PeriodicTask

        from . import registry
        from .sync import account_lists, sync_accounts
        from .tasks import REAPER_SCHEDULE_NAME, SCHEDULE_NAME, reap_syncs, sync_all

        registry.register_sync_area(registry.SyncArea("accounts", 10, sync_accounts, account_lists))
        registry.register_periodic(
            registry.Periodic(SCHEDULE_NAME, sync_all.name, every=lambda: settings.SYNC_INTERVAL_SECONDS)
        )
        registry.register_periodic(
            registry.Periodic(REAPER_SCHEDULE_NAME, reap_syncs.name, every=lambda: settings.SYNC_REAPER_SECONDS)
        )

        def ensure_periodic_tasks(using: str = "default", **kwargs: Any) -> None:
            # A partial migrate may leave beat's tables for later: then its own migrate does this.
            if PeriodicTask._meta.db_table in connections[using].introspection.table_names():
                registry.ensure_periodic_tasks(using=using)

        # The schedule is configuration, not data: every migrate (make run, a deploy) puts every
        # registered entry in place, so nobody has to remember a second command.
        post_migrate.connect(ensure_periodic_tasks, sender=self, weak=False, dispatch_uid="orgportal.periodic")
