"""What notifications keep: events (each once, by a unique key), who wants which of them where
(subscriptions, channels), one delivery row per (event, recipient, channel), each connection's
reminder settings and its cursor into the change history, and each user's calendar feed token.

The change rows the sync and the portal's actions write (`HandshakeChange`, `TransferChange`)
are the outbox: `notifications.outbox` reads them after a per-connection cursor and writes the
events, their deliveries and the cursor's new position in one transaction.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgportal import crypto
from orgportal.models import Role


class EventKind(models.TextChoices):
    INVITATION_RECEIVED = "invitation.received", "New invitation received"
    INVITATION_DEADLINE = "invitation.deadline", "Invitation nearing its answer-by deadline"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    INVITATION_DECLINED = "invitation.declined", "Invitation declined"
    INVITATION_CANCELED = "invitation.canceled", "Invitation canceled"
    INVITATION_EXPIRED = "invitation.expired", "Invitation expired"
    APPROVAL_WAITING = "approval.waiting", "All-features approval waiting"
    TRANSFER_STARTED = "transfer.started", "Billing transfer starting"
    TRANSFER_WITHDRAWN = "transfer.withdrawn", "Billing transfer withdrawn"
    TRANSFER_ENDING = "transfer.ending", "Billing transfer ending this month"
    POLICY_INVALID = "policy.invalid", "Invalid effective policy found"
    SYNC_FAILING = "sync.failing", "Sync failing"
    SYNC_RECOVERED = "sync.recovered", "Sync recovered"
    # Two-person approval (told by `approvals.events`, each to the people it concerns only).
    APPROVAL_ASKED = "approval_request.asked", "Two-person approval asked of me"
    APPROVAL_ANSWERED = "approval_request.answered", "My two-person request answered, sent or lapsed"
    APPROVAL_CLOSED = "approval_request.closed", "A two-person request waiting for me withdrawn or lapsed"
    TEST = "test", "Test message"


# What a user can subscribe to (a test message is sent on request, never subscribed to).
SUBSCRIBABLE = tuple(kind for kind in EventKind.values if kind != EventKind.TEST)
# What a role gets until its holder chooses: approvers and operators hear about invitations and
# their deadlines, and about two-person requests (asked of them, withdrawn or lapsed before they
# answered, and the answers to their own); admins about everything; viewers and auditors nothing
# unless they opt in.
INVITATION_KINDS = frozenset(
    {
        EventKind.INVITATION_RECEIVED,
        EventKind.INVITATION_DEADLINE,
        EventKind.INVITATION_EXPIRED,
        EventKind.APPROVAL_WAITING,
    }
)
TWO_PERSON_KINDS = frozenset({EventKind.APPROVAL_ASKED, EventKind.APPROVAL_ANSWERED, EventKind.APPROVAL_CLOSED})
ROLE_DEFAULTS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(SUBSCRIBABLE),
    Role.APPROVER: INVITATION_KINDS | TWO_PERSON_KINDS,
    Role.OPERATOR: INVITATION_KINDS | TWO_PERSON_KINDS,
    Role.VIEWER: frozenset(),
    Role.AUDITOR: frozenset(),
}
# Never held back for the daily digest: a digest could arrive after the deadline it warns of (a
# colleague's request waits for an answer by its own deadline).
URGENT_KINDS = frozenset(
    {EventKind.INVITATION_DEADLINE, EventKind.SYNC_FAILING, EventKind.APPROVAL_ASKED, EventKind.TEST}
)

DEFAULT_REMINDERS = [7 * 86400, 48 * 3600, 24 * 3600]


def default_reminders() -> list[int]:
    return list(DEFAULT_REMINDERS)


class ConnectionSettings(models.Model):
    """Per connection: when deadline reminders go out, and when a failing sync is worth a word."""

    connection = models.OneToOneField(
        "orgportal.AwsConnection", on_delete=models.CASCADE, related_name="notification_settings"
    )
    # Seconds before the answer-by deadline, e.g. [604800, 172800, 86400] for 7 days, 48 h, 24 h.
    reminder_seconds = models.JSONField(default=default_reminders)
    sync_failing_after_seconds = models.PositiveIntegerField(default=1800)

    def __str__(self) -> str:
        return f"notification settings of {self.connection}"

    def thresholds(self) -> list[timedelta]:
        """The reminder thresholds, largest first."""
        return [timedelta(seconds=int(s)) for s in sorted(set(self.reminder_seconds or []), reverse=True) if s > 0]


class ChangeCursor(models.Model):
    """How far the outbox has read one change table for one connection (the last change id)."""

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=32)  # "handshake", "transfer"
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "source"], name="unique_change_cursor")]

    def __str__(self) -> str:
        return f"{self.source} changes of {self.connection_id} after {self.last_id}"


class Event(models.Model):
    """Something worth telling, once: `key` names the fact (the object and what happened to it,
    or the reminder threshold), so a re-run sync, a re-read change or a second worker finds the
    key taken and creates nothing. `audience`, when set, names the only users it is for (a
    two-person request's deciders, or its requester): it then goes to those of them who chose
    it, by email only, never to a shared channel."""

    key = models.CharField(max_length=255, unique=True)
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    # Lower goes first: billing transfers and deadlines before the rest.
    priority = models.PositiveSmallIntegerField(default=5)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    path = models.CharField(max_length=512, blank=True)  # the page it links back to
    resource = models.CharField(max_length=128, blank=True)  # "handshake/h-...", "transfer/rt-..."
    due_at = models.DateTimeField(null=True, blank=True)  # the deadline a reminder is about
    data = models.JSONField(default=dict, blank=True)
    audience = models.JSONField(null=True, blank=True)  # user ids; None: everyone who chose it
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["connection", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Channel(models.Model):
    """A Slack, Teams or signed JSON webhook of one connection. The URL (and the webhook's
    signing secret) are secrets: stored encrypted, never shown again (only the host is)."""

    class Kind(models.TextChoices):
        SLACK = "slack"
        TEAMS = "teams", "Microsoft Teams"
        WEBHOOK = "webhook", "Signed JSON webhook"

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    host = models.CharField(max_length=255)  # shown instead of the URL
    url_encrypted = models.TextField()
    secret_encrypted = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["connection_id", "name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"

    @property
    def url(self) -> str:
        return crypto.decrypt(self.url_encrypted)

    @url.setter
    def url(self, value: str) -> None:
        self.url_encrypted = crypto.encrypt(value)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def choice(self) -> str:
        """How a subscription names this channel."""
        return f"channel:{self.pk}"


class Subscription(models.Model):
    """One user's choice on one connection: which events, on which channels ("email",
    "channel:<id>"), and whether email waits for the daily digest. Without a row the role
    defaults apply (`ROLE_DEFAULTS`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    events = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    digest = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "connection"], name="unique_subscription")]

    def __str__(self) -> str:
        return f"{self.user} on {self.connection}"


class Delivery(models.Model):
    """One event to one recipient on one channel. `key` is unique, so fan-out run twice writes
    one row; a worker owns a row only after its conditional UPDATE moved it to `sending`."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        DIGEST = "digest", "Waiting for the daily digest"
        SENDING = "sending"  # Django labels it (and SENT) from the name
        SENT = "sent"
        DEAD = "dead", "Gave up"

    class Medium(models.TextChoices):
        EMAIL = "email"  # a label only where the name is not enough (Teams)
        SLACK = "slack"
        TEAMS = "teams", "Microsoft Teams"
        WEBHOOK = "webhook"

    key = models.CharField(max_length=255, unique=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # SET_NULL: removing a channel keeps the record of what was sent through it.
    channel = models.ForeignKey(Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    medium = models.CharField(max_length=16, choices=Medium.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    priority = models.PositiveSmallIntegerField(default=5)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)  # the receiver's HTTP status
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The workers' queue: due rows of a state, most important first.
            models.Index(fields=["state", "priority", "next_attempt_at", "id"], name="delivery_queue"),
            models.Index(fields=["recipient", "-created_at"]),
            models.Index(fields=["connection", "-created_at"]),
            models.Index(fields=["claim_token"]),
        ]

    def __str__(self) -> str:
        return f"{self.medium} {self.key} ({self.state})"

    @property
    def where(self) -> str:
        """Where it goes, in words (never a secret)."""
        if self.channel_id and self.channel is not None:
            return f"{self.channel.get_kind_display()} “{self.channel.name}” ({self.channel.host})"
        if self.recipient_id and self.recipient is not None:
            return f"email to {self.recipient.email}"
        return f"{self.get_medium_display()} (a removed channel)"


class CalendarFeed(models.Model):
    """A user's secret calendar URL. Only a digest of the token is kept: the URL is shown once,
    when made, and a new one (rotation) makes the old one a 404."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"calendar of {self.user}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
