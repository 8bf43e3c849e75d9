"""App config of two-person approval: registers its gate on the one write path."""

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Two-person approval"

    def ready(self) -> None:
        # The write path asks every registered gate before it claims a resource; the foundation
        # never imports this app, the app hands it its gate.
        from orgportal.writepath import register_gate

        from .services import gate

        register_gate(gate)
