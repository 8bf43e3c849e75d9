"""The local cache of responsibility transfers, plus what AWS does not keep: their history — and
the API's rules about a transfer, said once here for the services, the pages and the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models

from orgportal.history import CachedAwsObject, ObservedChange, change_indexes


class Direction(models.TextChoices):
    # Inbound: this connection is the transfer's Target, the payer ("Pays for").
    INBOUND = "inbound", "Inbound (we pay)"
    # Outbound: this connection is the Source; another organization pays for it.
    OUTBOUND = "outbound", "Outbound (paid by another organization)"


# The invited organization must accept at least this long before the transfer starts (AWS's rule).
ACCEPT_BEFORE_START = timedelta(hours=24)
# UpdateResponsibilityTransfer renames a transfer in these statuses only.
RENAMABLE_STATUSES = ("REQUESTED", "ACCEPTED")


def accept_by(start_at: datetime) -> datetime:
    """The last moment the invitation to a transfer starting at `start_at` may be accepted."""
    return start_at - ACCEPT_BEFORE_START


class ResponsibilityTransfer(CachedAwsObject):
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="transfers")
    transfer_id = models.CharField(max_length=36)  # rt-...
    direction = models.CharField(max_length=8, choices=Direction.choices)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=128, blank=True)
    type = models.CharField(max_length=32, default="BILLING")
    status = models.CharField(max_length=32)
    source_account_id = models.CharField(max_length=12, blank=True)
    source_email = models.CharField(max_length=254, blank=True)
    target_account_id = models.CharField(max_length=12, blank=True)
    target_email = models.CharField(max_length=254, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    active_handshake_id = models.CharField(max_length=34, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "transfer_id"], name="unique_transfer_per_connection")
        ]
        indexes = [
            models.Index(fields=["connection", "direction", "status"]),
            models.Index(fields=["start_at", "id"]),
            # One row per transfer: the list's NOT EXISTS probes (transfer_id, id < this one) per
            # row it shows, instead of hashing every row of the user's connections.
            models.Index(fields=["transfer_id", "id"], name="transfer_id_first_side"),
            models.Index(fields=["changed_at", "id"]),
            models.Index(fields=["active_handshake_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.transfer_id} ({self.status})"

    def can_cancel(self) -> bool:
        """An invitation this organization sent (it pays: inbound) that nobody has answered yet."""
        return self.direction == Direction.INBOUND and self.status == "REQUESTED" and bool(self.active_handshake_id)

    def can_rename(self) -> bool:
        return self.status in RENAMABLE_STATUSES

    def can_terminate(self) -> bool:
        """Only a transfer in force (accepted) can be ended."""
        return self.status == "ACCEPTED"

    @property
    def counterparty_account_id(self) -> str:
        return self.source_account_id if self.direction == Direction.INBOUND else self.target_account_id


class TransferChange(ObservedChange):
    transfer = models.ForeignKey(ResponsibilityTransfer, on_delete=models.CASCADE, related_name="changes")

    class Meta(ObservedChange.Meta):
        indexes = change_indexes("transfer")
