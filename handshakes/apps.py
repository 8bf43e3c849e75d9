"""App config for handshakes."""

from django.apps import AppConfig


class HandshakesConfig(AppConfig):
    name = "handshakes"
    verbose_name = "Handshakes"
