"""App config of two-person approval: registers its gate on the one write path and its lapse check."""

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Two-person approval"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry
        from orgportal.writepath import register_gate

        from .services import gate
        from .tasks import LAPSE_EVERY_SECONDS, SCHEDULE_NAME, lapse_requests

        # The write path asks every registered gate before it claims a resource; the foundation
        # never imports this app, the app hands it its gate.
        register_gate(gate)
        registry.register_periodic(
            registry.Periodic(SCHEDULE_NAME, lapse_requests.name, every=lambda: LAPSE_EVERY_SECONDS)
        )
