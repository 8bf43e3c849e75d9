"""`manage.py export_audit --since ISO --until ISO`: the audit trail as CSV on stdout, same writer as the page."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from audit.events import record
from audit.models import AuditEvent
from audit.selectors import AuditFilters, export_csv


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime(day.year, day.month, day.day)
    if moment is None:
        raise CommandError(f"--{name} must be an ISO 8601 date or date-time, not {value!r}")
    # A moment without an offset is read as UTC, the portal's only time zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Write audit events (time >= --since, < --until) as CSV to stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO 8601 start (inclusive), UTC unless an offset is given")
        parser.add_argument("--until", help="ISO 8601 end (exclusive), UTC unless an offset is given")
        parser.add_argument("--action", default="")
        parser.add_argument("--outcome", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = AuditFilters(
            since=_moment(options["since"], "since"),
            until=_moment(options["until"], "until"),
            action=options["action"],
            outcome=options["outcome"],
        )
        record(
            action="export",
            actor_label="system",
            resource="export_audit",
            params={"export": "audit", **filters.as_params()},
        )
        # Chunks from the database may split a character: decode incrementally.
        for text in codecs.iterdecode(export_csv(filters.apply(AuditEvent.objects.all())), "utf-8"):
            self.stdout.write(text, ending="")
