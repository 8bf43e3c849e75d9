"""App config for notifications: follows every sync with the outbox step, and registers its beat entries."""

from django.apps import AppConfig
from django.conf import settings


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry

        from .tasks import DIGEST_NAME, TICK_NAME, after_sync, digest, tick

        registry.register_after_sync("notifications", after_sync)
        registry.register_periodic(registry.Periodic(TICK_NAME, tick.name, every=lambda: settings.NOTIFY_TICK_SECONDS))
        registry.register_periodic(
            registry.Periodic(DIGEST_NAME, digest.name, daily_at_hour=lambda: settings.NOTIFY_DIGEST_HOUR)
        )
