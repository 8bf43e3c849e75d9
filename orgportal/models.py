"""Connections (the AWS management accounts the portal works for), roles, and sync runs."""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import crypto
from .history import CachedAwsObject


class Role(models.TextChoices):
    """What a user may do on one connection. Roles are granted per connection; each one's label is
    Django's own (the name, capitalized)."""

    VIEWER = "viewer"
    APPROVER = "approver"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class CredentialMode(models.TextChoices):
    DEFAULT_CHAIN = "default", "Default credential chain (environment, instance role)"
    PROFILE = "profile", "Named profile"
    ASSUME_ROLE = "assume_role", "Assume a role (with the portal's external id)"
    KEYS = "keys", "Access keys (stored encrypted)"

    @property
    def is_ambient(self) -> bool:
        """The web/worker process's own credentials: whatever they reach, not what a tenant brings."""
        return self in AMBIENT_MODES


AMBIENT_MODES = frozenset({CredentialMode.DEFAULT_CHAIN, CredentialMode.PROFILE})

# Whatever the endpoint, a stored secret is bounded printable ASCII: no 10 KB blob, no Unicode
# that an HTTP signer would mangle. The form applies AWS's own, stricter shapes on top.
STORABLE_SECRET = re.compile(r"[\x21-\x7e]{1,128}")


class AwsCredentials(models.Model):
    """How to obtain credentials. Secrets are stored encrypted and never shown again."""

    mode = models.CharField(max_length=16, choices=CredentialMode.choices, default=CredentialMode.DEFAULT_CHAIN)
    profile_name = models.CharField(max_length=128, blank=True)
    role_arn = models.CharField(max_length=2048, blank=True)
    access_key_id = models.CharField(max_length=128, blank=True)
    secret_access_key_encrypted = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.get_mode_display()

    @property
    def is_ambient(self) -> bool:
        return CredentialMode(self.mode).is_ambient

    @property
    def secret_access_key(self) -> str:
        return crypto.decrypt(self.secret_access_key_encrypted)

    @secret_access_key.setter
    def secret_access_key(self, value: str) -> None:
        if not STORABLE_SECRET.fullmatch(value):
            raise ValueError("a secret access key is 1 to 128 printable ASCII characters")
        self.secret_access_key_encrypted = crypto.encrypt(value)

    def describe(self) -> str:
        """A safe one-line description (never includes a secret)."""
        if self.mode == CredentialMode.PROFILE:
            return f"profile {self.profile_name}"
        if self.mode == CredentialMode.ASSUME_ROLE:
            return f"role {self.role_arn}"
        if self.mode == CredentialMode.KEYS:
            return f"access key {self.access_key_id[:4]}…{self.access_key_id[-4:]}"
        return "default credential chain"


def new_external_id() -> str:
    """A fresh external id: random, unique per connection, inside STS's ExternalId pattern and length."""
    return "orgportal-" + secrets.token_urlsafe(24)


class AwsConnection(models.Model):
    """One AWS Organizations management account that the portal reads and acts for."""

    name = models.CharField(max_length=100, unique=True)
    # AWS's guidance for third parties: the portal, not the user, picks the external id that
    # the customer's role trust policy requires, so no tenant can name another tenant's role
    # and have the portal assume it (the confused deputy). Not a secret: shown on the page.
    external_id = models.CharField(max_length=64, unique=True, default=new_external_id, editable=False)
    endpoint_url = models.URLField(blank=True, help_text="Leave empty for AWS; set for orgsim.")
    read_credentials = models.OneToOneField(AwsCredentials, on_delete=models.PROTECT, related_name="+")
    # Optional least-privilege split: read_credentials only need List*/Describe*.
    action_credentials = models.OneToOneField(
        AwsCredentials, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # What AWS told us about whom these credentials belong to (filled by test/sync).
    account_id = models.CharField(max_length=12, blank=True)
    account_email = models.CharField(max_length=254, blank=True)
    organization_id = models.CharField(max_length=34, blank=True)
    organization_arn = models.CharField(max_length=2048, blank=True)
    feature_set = models.CharField(max_length=32, blank=True)
    management_account_id = models.CharField(max_length=12, blank=True)
    management_account_email = models.CharField(max_length=254, blank=True)
    sync_enabled = models.BooleanField(default=True)
    # Claimed with a conditional UPDATE so one connection never syncs twice at once.
    sync_claimed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_ok = models.BooleanField(null=True)
    last_sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_management_account(self) -> bool:
        return bool(self.account_id) and self.account_id == self.management_account_id

    def credentials_for(self, purpose: str) -> AwsCredentials:
        """The credentials for 'read' or 'action' work; actions fall back to read ones."""
        if purpose == "action" and self.action_credentials_id:
            assert self.action_credentials is not None
            return self.action_credentials
        return self.read_credentials

    def freshness(self) -> str:
        """'fresh', 'stale' or 'never' — what a page tells the user about its data."""
        if self.last_synced_at is None:
            return "never"
        age = (timezone.now() - self.last_synced_at).total_seconds()
        return "stale" if age > settings.STALE_AFTER_SECONDS else "fresh"


class Grant(models.Model):
    """A role held by a user on one connection."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants")
    connection = models.ForeignKey(AwsConnection, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "connection", "role"], name="unique_grant")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} on {self.connection}"


class SyncRun(models.Model):
    """One pass of AWS -> database for a connection: what it cost and what it changed.

    A running sync beats (`heartbeat_at`) every few seconds; a run still "running" whose beat
    stopped belongs to a killed worker, and whoever finds it (the next sync of the connection, or
    the reaper) closes it as "interrupted".
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"
        INTERRUPTED = "interrupted"

    connection = models.ForeignKey(AwsConnection, on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    calls = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    throttles = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    vanished = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["connection", "-started_at"]),
            # The reaper's walk: only the few runs still open, however long the history grows.
            models.Index(
                fields=["heartbeat_at"], condition=models.Q(status="running"), name="syncrun_running_heartbeat"
            ),
        ]

    def __str__(self) -> str:
        return f"sync {self.connection} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class InFlightAction(models.Model):
    """A claim on one AWS resource while a portal action on it is under way (see orgportal.actions).

    The unique key is what makes "one action in flight per resource" hold across threads,
    processes and hosts: the second INSERT fails on SQLite and PostgreSQL alike, so a double
    click or a concurrent user never reaches AWS twice. Resource claims are deleted when the
    action ends; form-submission claims stay (finished_at set) so a re-posted form is refused.
    """

    key = models.CharField(max_length=255, unique=True)
    connection = models.ForeignKey(AwsConnection, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.action} on {self.key}"


class Account(CachedAwsObject):
    """An account of a connection's organization as ListAccounts gives it: how pages name parties.

    Filled by the sync with the same rule as every cached object: a row is written only when its
    fingerprint changes; an account AWS stops listing is marked vanished, never deleted.
    """

    connection = models.ForeignKey(AwsConnection, on_delete=models.CASCADE, related_name="accounts")
    account_id = models.CharField(max_length=12)
    name = models.CharField(max_length=128, blank=True)
    email = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=32, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "account_id"], name="unique_account_per_connection")
        ]
        indexes = [models.Index(fields=["account_id"])]

    def __str__(self) -> str:
        return f"{self.name or self.account_id} ({self.account_id})"


class LoginThrottle(models.Model):
    """The current burst of failed sign-ins of one (username, address) — or of one address, across
    usernames (`scope` "ip", `username` empty) — for the login throttle (`orgportal/auth.py`).

    Kept in the database, beside the trail rather than in it: every failure updates a counter here,
    so the append-only trail receives one row per burst instead of one per POST, and every web
    process (SQLite or PostgreSQL) sees the same counts.
    """

    class Scope(models.TextChoices):
        USER = "user", "username and address"
        IP = "ip", "address"

    scope = models.CharField(max_length=4, choices=Scope.choices)
    username = models.CharField(max_length=150, blank=True)  # normalized as authentication does
    ip = models.CharField(max_length=45, blank=True)
    failures = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    # Whether this burst's first failure and its lock have their own audit rows; what is not yet in
    # the trail waits here for the burst's summary row.
    first_audited = models.BooleanField(default=False)
    lock_audited = models.BooleanField(default=False)
    audit_rows = models.PositiveIntegerField(default=0)  # rows of first failures under this address
    unreported_failures = models.PositiveIntegerField(default=0)
    unreported_refused = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "username", "ip"], name="unique_login_throttle")]
        indexes = [models.Index(fields=["last_at"])]

    def __str__(self) -> str:
        return f"{self.failures} failed sign-ins of {self.username or '*'} from {self.ip or '?'}"
