"""orgportal: a web dashboard for AWS Organizations billing transfers and handshakes."""

from .celery import app as celery_app

__all__ = ("celery_app",)
