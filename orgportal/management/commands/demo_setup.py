"""`manage.py demo_setup --endpoint URL`: the demo on orgsim, idempotently.

Creates the demo superuser (`demo`), one persona per role (`approver`, `operator`, `viewer`,
`auditor`) with grants on every demo connection, one connection per organization orgsim reports
(keys credentials: the access key id is the management account id), the beat schedule, and runs
a first sync. Running it again changes nothing but re-syncs, and prints the same logins: the
generated password is kept in var/demo_password (owner-only) unless DEMO_PASSWORD is set.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from orgportal.models import AwsConnection, AwsCredentials, CredentialMode, Grant, Role
from orgportal.tasks import ensure_schedule, sync_and_follow

PERSONAS = (
    ("approver", Role.APPROVER),
    ("operator", Role.OPERATOR),
    ("viewer", Role.VIEWER),
    ("auditor", Role.AUDITOR),
)


def demo_password() -> str:
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    path = Path(settings.VAR_DIR) / "demo_password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    return password


def orgsim_organizations(endpoint: str) -> list[dict[str, str]]:
    """[{"id", "name", "management_account_id"}] from orgsim's control summary."""
    url = endpoint.rstrip("/") + "/_orgsim/summary"
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"--endpoint must be an http(s) URL, not {endpoint!r}")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - scheme checked above
            summary: Any = json.load(response)
    except OSError as exc:
        raise CommandError(f"orgsim did not answer at {url}: {exc}") from exc
    organizations = summary.get("organizations", summary) if isinstance(summary, dict) else summary
    if isinstance(organizations, dict):
        organizations = [{"id": key, **value} for key, value in organizations.items()]
    found = []
    for org in organizations:
        management = (
            org.get("management_account_id")
            or org.get("MasterAccountId")
            or org.get("management_account")
            or org.get("master_account_id")
        )
        if management:
            found.append(
                {
                    "id": org.get("id") or org.get("Id", ""),
                    "name": org.get("name") or org.get("management_account_name") or "",
                    "management_account_id": str(management),
                }
            )
    return found


class Command(BaseCommand):
    help = "Create the demo logins and one connection per orgsim organization, then sync them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", help="orgsim's URL, e.g. http://127.0.0.1:4566")
        parser.add_argument("--no-sync", action="store_true", help="skip the first sync")

    def handle(self, *args: Any, endpoint: str | None, no_sync: bool, **options: Any) -> None:
        password = demo_password()
        organizations = orgsim_organizations(endpoint) if endpoint else []
        with transaction.atomic():
            users = self._users(password)
            connections = [self._connection(org, endpoint or "") for org in organizations]
            for connection in connections:
                for username, role in PERSONAS:
                    Grant.objects.get_or_create(user=users[username], connection=connection, role=role)
            ensure_schedule()
        if not no_sync:
            for connection in connections:
                run = sync_and_follow(connection)
                if run is None:
                    self.stdout.write(f"  {connection.name}: a sync is already running")
                else:
                    detail = f"{run.created} new, {run.changed} changed" if run.status == "ok" else run.error
                    self.stdout.write(f"  {connection.name}: first sync {run.status} ({detail})")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: demo / {password}   (also approver, operator, viewer, auditor with the same password)"
            )
        )
        self.stdout.write(f"{len(connections)} demo connection(s) to {endpoint or '—'}")

    def _users(self, password: str) -> dict[str, Any]:
        model = get_user_model()
        users: dict[str, Any] = {}
        for username, superuser in [("demo", True), *((name, False) for name, _ in PERSONAS)]:
            user, created = model.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@example.com", "is_superuser": superuser, "is_staff": superuser},
            )
            if created or not user.check_password(password):
                user.set_password(password)  # stored hashed
                user.save()
            users[username] = user
        return users

    def _connection(self, org: dict[str, str], endpoint: str) -> AwsConnection:
        account_id = org["management_account_id"]
        label = org["name"] or org["id"] or account_id
        name = f"{label} ({account_id})"
        existing = AwsConnection.objects.filter(
            endpoint_url=endpoint, read_credentials__access_key_id=account_id
        ).first()
        if existing is not None:
            return existing
        credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account_id)
        credentials.secret_access_key = "orgsim-demo-secret"  # noqa: S105 - orgsim accepts any secret
        credentials.save()
        return AwsConnection.objects.create(name=name[:100], endpoint_url=endpoint, read_credentials=credentials)
