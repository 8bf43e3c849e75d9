"""What every cached AWS object shares: when we first saw it, when it changed, when AWS stopped
listing it, and a timeline of every observed change. AWS forgets closed handshakes after 30 days;
these rows are the portal's memory beyond that."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class CachedAwsObject(models.Model):
    """Base of a row that mirrors one AWS object as seen through one connection."""

    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)
    # Set when AWS stops listing the object (e.g. a closed handshake after 30 days); never deleted.
    vanished_at = models.DateTimeField(null=True, blank=True)
    # A digest of the AWS fields: a sync compares it and writes nothing when it is unchanged.
    fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True


class ObservedChange(models.Model):
    """One observation of an object changing: created, changed (field: [old, new]), vanished."""

    class Kind(models.TextChoices):
        CREATED = "created", "First seen"
        CHANGED = "changed"  # Django labels it "Changed"
        VANISHED = "vanished", "No longer listed by AWS"
        REAPPEARED = "reappeared", "Listed again"
        ACTION = "action", "Changed by a portal action"

    observed_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    changes = models.JSONField(default=dict, blank=True)
    sync_run = models.ForeignKey(
        "orgportal.SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["observed_at", "id"]
