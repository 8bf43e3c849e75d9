"""App config for handshakes: registers the handshakes' sync area with the foundation."""

from django.apps import AppConfig


class HandshakesConfig(AppConfig):
    name = "handshakes"
    verbose_name = "Handshakes"

    def ready(self) -> None:
        # Imported here, not at the top: the apps' models are loaded only by now (Django's rule).
        from orgportal import registry

        from .sync import handshake_lists, sync_handshakes

        # After the accounts and before transfers: the order the sync always had.
        registry.register_sync_area(registry.SyncArea("handshakes", 20, sync_handshakes, handshake_lists))
