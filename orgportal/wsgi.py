"""WSGI entry point (gunicorn orgportal.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgportal.settings")
application = get_wsgi_application()
