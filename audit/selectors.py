"""Reading the audit trail: who may see which events, the page's filters, and export rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connections
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from orgportal.models import AwsConnection, Role
from orgportal.roles import User, connections_for

from .csv import IsoUtc, copy_csv, csv_bytes
from .models import AuditEvent

EXPORT_HEADER = (
    "id",
    "time",
    "actor",
    "actor_id",
    "roles",
    "ip",
    "user_agent",
    "connection",
    "connection_id",
    "resource",
    "action",
    "outcome",
    "params",
    "aws_request_id",
    "error",
    "prev_hash",
    "hash",
)


def auditable_connections(user: User) -> QuerySet[AwsConnection]:
    """The connections whose events `user` may read (auditor role; superusers: all)."""
    return connections_for(user, Role.AUDITOR)


def can_audit(user: User) -> bool:
    return user.is_authenticated and (getattr(user, "is_superuser", False) or auditable_connections(user).exists())


def events_for(user: User) -> QuerySet[AuditEvent]:
    """Events `user` may read: their auditable connections' events, and events of no connection
    (sign-ins, user and grant changes). Superusers read everything, deleted connections included."""
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    if getattr(user, "is_superuser", False):
        return AuditEvent.objects.all()
    if not auditable_connections(user).exists():
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(
        Q(connection_id__in=auditable_connections(user).values("id")) | Q(connection_id__isnull=True)
    )


# Who acted: people (a signed-in user), or the portal's own work — what AWS was seen doing by a
# sync (actor "AWS") and scheduled jobs ("system"). Sync rows are most of the trail; people's
# actions are what an auditor usually looks for.
SOURCES = {"people": "People", "automatic": "AWS and sync (automatic)"}

# The recorded actions, for the page's action list: distinct over the whole trail, so kept for a
# few minutes instead of scanned per page view (a new kind of action appears within that time).
ACTIONS_CACHE_SECONDS = 300


def recorded_actions() -> list[str]:
    """Every action name the trail holds, sorted (names only: nothing of any tenant's data)."""
    actions: list[str] | None = cache.get("audit:recorded-actions")
    if actions is None:
        actions = sorted(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())
        cache.set("audit:recorded-actions", actions, ACTIONS_CACHE_SECONDS)
    return actions


@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""
    connection_id: int | None = None
    action: str = ""
    outcome: str = ""
    source: str = ""

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.since is not None:
            events = events.filter(time__gte=self.since)
        if self.until is not None:
            events = events.filter(time__lt=self.until)
        if self.actor:
            events = events.filter(actor_label=self.actor)
        if self.connection_id is not None:
            events = events.filter(connection_id=self.connection_id)
        if self.action:
            events = events.filter(action=self.action)
        if self.outcome:
            events = events.filter(outcome=self.outcome)
        if self.source == "people":
            events = events.filter(actor_id__isnull=False)
        elif self.source == "automatic":
            events = events.filter(actor_id__isnull=True)
        return events

    def as_params(self) -> dict[str, Any]:
        """The filters as the export's audit params (only those set)."""
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "actor": self.actor,
            "connection_id": self.connection_id,
            "action": self.action,
            "outcome": self.outcome,
            "source": self.source,
        }
        return {name: value for name, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    older: int | None  # `before` cursor for the next (older) page, if any
    newer: int | None  # `after` cursor for the previous (newer) page, if any


def page_of(events: QuerySet[AuditEvent], *, before: int | None, after: int | None, size: int = 50) -> Page:
    """One page of events, newest first, by keyset on id (no OFFSET: any depth costs the same)."""
    if after is not None:
        rows = list(events.filter(id__gt=after).order_by("id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        older = rows[-1].pk if rows and events.filter(id__lt=rows[-1].pk).exists() else None
        return Page(rows, older, rows[0].pk if rows and more_newer else None)
    if before is not None:
        events = events.filter(id__lt=before)
    rows = list(events.order_by("-id")[: size + 1])
    older = rows[size - 1].pk if len(rows) > size else None
    rows = rows[:size]
    return Page(rows, older, rows[0].pk if rows and before is not None else None)


def _unescaped(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """SQLite keeps JSON with \\u escapes; spell those cells in plain UTF-8 like PostgreSQL does."""
    roles, params = EXPORT_HEADER.index("roles"), EXPORT_HEADER.index("params")
    for row in rows:
        if "\\u" in row[params] or "\\u" in row[roles]:
            cells = list(row)
            cells[roles] = json.dumps(json.loads(row[roles]), ensure_ascii=False)
            cells[params] = json.dumps(json.loads(row[params]), ensure_ascii=False)
            row = tuple(cells)
        yield row


def _export_values(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent, tuple[Any, ...]]:
    """The export's columns in EXPORT_HEADER order, oldest first, as text and integers.

    JSON columns and the time come back as the database's text, so no row pays for decoding
    them into Python objects only to turn them back into text.
    """
    return (
        events.order_by("id")
        .annotate(
            time_text=IsoUtc("time"),
            roles_text=Cast("roles", TextField()),
            params_text=Cast("params", TextField()),
        )
        .values_list(
            "id",
            "time_text",
            "actor_label",
            "actor_id",
            "roles_text",
            "ip",
            "user_agent",
            "connection_label",
            "connection_id",
            "resource",
            "action",
            "outcome",
            "params_text",
            "aws_request_id",
            "error",
            "prev_hash",
            "hash",
        )
    )


def export_rows(events: QuerySet[AuditEvent], *, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Plain tuples in EXPORT_HEADER order, oldest first, streamed through a chunked cursor."""
    values = _export_values(events)
    # The ORM compiles the query (filters and all); the rows are read without Django's per-row
    # iterator machinery, which would cost as much as writing the CSV.
    connection = connections[events.db]
    sql, params = values.query.get_compiler(using=events.db).as_sql()
    rows = _fetch(connection, sql, params, chunk_size)
    yield from rows if connection.vendor == "postgresql" else _unescaped(rows)


def export_csv(events: QuerySet[AuditEvent]) -> Iterator[bytes]:
    """The export as CSV bytes, header first, streamed: written by PostgreSQL itself (COPY, cells
    neutralized in the SQL), elsewhere by the Python writer from `export_rows`. The same bytes."""
    if connections[events.db].vendor == "postgresql":
        return copy_csv(EXPORT_HEADER, _export_values(events))
    return csv_bytes(EXPORT_HEADER, export_rows(events))


def _fetch(connection: Any, sql: str, params: Any, chunk_size: int) -> Iterator[tuple[Any, ...]]:
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(chunk_size):
            yield from batch
    finally:
        cursor.close()
