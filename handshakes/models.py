"""The local cache of handshakes, plus what AWS does not keep: history beyond its 30 days — and
when a handshake must be answered by, said once here for the action pages and the inbox."""

from __future__ import annotations

from datetime import datetime

from django.db import models

from orgportal import labels
from orgportal.history import CachedAwsObject, ObservedChange, change_indexes
from transfers.models import accept_by


class Direction(models.TextChoices):
    RECEIVED = "received", "Received"  # this connection's account (or email) is the invited party
    SENT = "sent", "Sent"


OPEN_STATES = ("REQUESTED", "OPEN")
TRANSFER_ACTION = "TRANSFER_RESPONSIBILITY"  # the handshake that carries a billing transfer


def answer_by(*, action: str, expires_at: datetime | None, transfer_start_at: datetime | None) -> datetime | None:
    """When an answer is due: the expiry, and for a billing transfer also its accept-by moment
    (24 hours before the transfer starts), whichever comes first. Takes the fields, not a row, so
    the inbox can rank rows it read as bare values."""
    candidates = [expires_at]
    if action == TRANSFER_ACTION and transfer_start_at is not None:
        candidates.append(accept_by(transfer_start_at))
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


class Handshake(CachedAwsObject):
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="handshakes")
    handshake_id = models.CharField(max_length=34)  # h-...
    arn = models.CharField(max_length=2048, blank=True)
    action = models.CharField(max_length=64)
    state = models.CharField(max_length=32)
    requested_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    parties = models.JSONField(default=list, blank=True)  # AWS's Parties, as listed
    resources = models.JSONField(default=list, blank=True)  # AWS's nested Resources, as listed
    # Derived from parties/resources when synced, so lists filter and sort in the database.
    direction = models.CharField(max_length=8, choices=Direction.choices, blank=True)
    counterparty = models.CharField(max_length=254, blank=True)  # the other party's id or email
    transfer_id = models.CharField(max_length=36, blank=True)  # RESPONSIBILITY_TRANSFER resource
    transfer_start_at = models.DateTimeField(null=True, blank=True)  # TRANSFER_START_TIMESTAMP

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "handshake_id"], name="unique_handshake_per_connection")
        ]
        indexes = [
            models.Index(fields=["connection", "state", "action"]),
            models.Index(fields=["requested_at", "id"]),
            models.Index(fields=["expires_at", "id"]),
            models.Index(fields=["changed_at", "id"]),
            models.Index(fields=["transfer_id"]),
            # The inbox: open invitations of one direction and state, walked in expiry order
            # (handshakes.selectors.open_invitations); vanished_at and connection ride along so
            # the open counts are read from the index alone.
            models.Index(
                fields=["direction", "state", "expires_at", "id", "vanished_at", "connection"],
                name="handshake_open_invitations",
            ),
            # The list sorted by state walks this instead of sorting every row.
            models.Index(fields=["state", "id"], name="handshake_by_state"),
            # The list filtered by a state walks these in its sort's order (one read per state:
            # orgportal.listing.keyset_page's split) instead of sorting every row of that state.
            models.Index(fields=["state", "requested_at", "id"], name="handshake_state_requested"),
            models.Index(fields=["state", "expires_at", "id"], name="handshake_state_expires"),
            models.Index(fields=["state", "changed_at", "id"], name="handshake_state_changed"),
            # The inbox's transfer invitations by start (their accept-by deadline), per open state.
            models.Index(
                fields=["direction", "state", "action", "transfer_start_at", "id"], name="handshake_state_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handshake_id} {self.action} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_billing_transfer(self) -> bool:
        return self.action == TRANSFER_ACTION

    def accept_by(self) -> datetime | None:
        """A billing transfer's invitation must be accepted 24 hours before the transfer starts."""
        return accept_by(self.transfer_start_at) if self.is_billing_transfer and self.transfer_start_at else None

    def answer_by(self) -> datetime | None:
        return answer_by(action=self.action, expires_at=self.expires_at, transfer_start_at=self.transfer_start_at)

    @property
    def action_label(self) -> str:
        """What the handshake asks, in the console's words (orgportal/labels.py)."""
        return labels.plain(self.action, "action")


class HandshakeChange(ObservedChange):
    handshake = models.ForeignKey(Handshake, on_delete=models.CASCADE, related_name="changes")

    class Meta(ObservedChange.Meta):
        indexes = change_indexes("handshake")
