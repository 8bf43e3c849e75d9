"""App config for the audit trail: registers the periodic signed checkpoint."""

from django.apps import AppConfig
from django.conf import settings


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry

        from .tasks import SCHEDULE_NAME, checkpoint

        registry.register_periodic(
            registry.Periodic(SCHEDULE_NAME, checkpoint.name, every=lambda: settings.AUDIT_CHECKPOINT_SECONDS)
        )
