"""The Celery application: workers poll AWS and run user actions in the background."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgportal.settings")

app = Celery("orgportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
