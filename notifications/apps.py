"""App config for notifications: follows every sync with the outbox step, listens to two-person
approval's requests, and registers its beat entries."""

from django.apps import AppConfig
from django.conf import settings


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from approvals import events as approval_events
        from orgportal import registry

        from .outbox import approval_told
        from .tasks import DIGEST_NAME, TICK_NAME, after_sync, digest, tick

        registry.register_after_sync("notifications", after_sync)
        registry.register_periodic(registry.Periodic(TICK_NAME, tick.name, every=lambda: settings.NOTIFY_TICK_SECONDS))
        registry.register_periodic(
            registry.Periodic(DIGEST_NAME, digest.name, daily_at_hour=lambda: settings.NOTIFY_DIGEST_HOUR)
        )
        # Approvals imports no notifications: we hand it our listener. It runs inside the
        # request's own transaction (see approvals.events), so events commit with the change.
        if approval_told not in approval_events.listeners:
            approval_events.listeners.append(approval_told)
