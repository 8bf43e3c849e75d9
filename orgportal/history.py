"""What every cached AWS object shares: when we first saw it, when it changed, when AWS stopped
listing it, and a timeline of every observed change. AWS forgets closed handshakes after 30 days;
these rows are the portal's memory beyond that."""

from __future__ import annotations

from typing import Any

from django.db import connections, models
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
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

    # The object's connection, said again on its changes: "the latest changes of these
    # connections" then walks an index (connection, observed_at) per connection instead of every
    # connection's changes, newest first, until enough are this user's.
    connection = models.ForeignKey("orgportal.AwsConnection", on_delete=models.CASCADE, related_name="+")
    observed_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    changes = models.JSONField(default=dict, blank=True)
    sync_run = models.ForeignKey(
        "orgportal.SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["observed_at", "id"]


def change_indexes(fk: str) -> list[models.Index]:
    """The indexes of every change table (`fk`: its object): the object's timeline, the walk of
    all changes by time, and each connection's newest (`latest_changes`)."""
    return [
        models.Index(fields=[fk, "observed_at"]),
        models.Index(fields=["observed_at", "id"]),
        models.Index(fields=["connection", "observed_at", "id"], name=f"{fk}_change_latest"),
    ]


def latest_changes(model: type[ObservedChange], connection_ids: list[int], limit: int) -> QuerySet[Any]:
    """The changes (of `model`) among which the `limit` newest of these connections are: the
    caller orders them newest first and slices `limit` (after select_related/only), one query.

    Walking one index by time until enough rows are these connections' reads every newer change
    of every other connection first (another tenant's busy day made an inbox 80 ms slower). On
    PostgreSQL each connection's own newest `limit` are read from the index (connection,
    observed_at, id) and merged; elsewhere (the embedded default: one organization or a few) the
    plain walk."""
    changes = model._default_manager
    if connections[changes.db].vendor == "postgresql":
        table = connections[changes.db].ops.quote_name(model._meta.db_table)
        # Only the table name is composed, from the model's own metadata; values are parameters.
        sql = (
            f"SELECT x.id FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL ("  # noqa: S608
            f"SELECT t.id, t.observed_at FROM {table} t WHERE t.connection_id = c.id "
            "ORDER BY t.observed_at DESC, t.id DESC LIMIT %s) x ORDER BY x.observed_at DESC, x.id DESC LIMIT %s"
        )
        newest = RawSQL(sql, (connection_ids, limit, limit))  # noqa: S611
        queryset = changes.filter(pk__in=newest)
    else:
        queryset = changes.filter(connection_id__in=connection_ids)
    return queryset
