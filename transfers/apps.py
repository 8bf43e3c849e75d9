"""App config for billing transfers: registers the transfers' sync area with the foundation."""

from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Billing transfers"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry

        from .sync import sync_transfers, transfer_lists

        registry.register_sync_area(registry.SyncArea("transfers", 30, sync_transfers, transfer_lists))
