"""The one Django setup every benchmark uses: a throwaway SQLite database unless DATABASE_URL
names one (a PostgreSQL database that does not exist yet is created), production-like settings
(DEBUG off, a throwaway key, warnings only), migrated; static files collected for benches that
render pages (the production storage needs its manifest)."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names if it does not exist."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup(name: str, *, static: bool = False) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        ensure_database(url)
    elif not url:
        os.environ.setdefault("ORGPORTAL_VAR_DIR", tempfile.mkdtemp(prefix=f"orgportal-{name}-"))
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECURE_TLS", "false")  # the test client speaks plain HTTP
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgportal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    if static:
        call_command("collectstatic", verbosity=0, interactive=False)
