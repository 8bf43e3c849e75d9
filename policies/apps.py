"""App config for organization and policies: registers their sync area with the foundation."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Organization and policies"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry

        from .sync import sync_policies_area

        # Last, as always; it names no list to read ahead (its calls follow from what it read).
        registry.register_sync_area(registry.SyncArea("policies", 40, sync_policies_area))
