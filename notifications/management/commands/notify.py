"""`manage.py notify`: one pass of what beat does every tick — the outbox step and reminders of
every connection, then the delivery queue (`--digest` sends the daily digests too). For cron,
or to see what would be sent without a worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.delivery import deliver_due, send_digests
from notifications.outbox import process_connection, remind
from orgportal.models import AwsConnection


class Command(BaseCommand):
    help = "Turn new changes and due reminders into notifications and deliver what is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--digest", action="store_true", help="also send the daily digests")

    def handle(self, *args: Any, digest: bool, **options: Any) -> None:
        for connection in AwsConnection.objects.all():
            changes = process_connection(connection)
            clock = remind(connection)
            self.stdout.write(
                f"{connection.name}: {changes.changes} changes read, {changes.events + clock.events} events, "
                f"{changes.deliveries + clock.deliveries} deliveries"
            )
        drained = deliver_due()
        self.stdout.write(f"delivered: {drained.sent} sent, {drained.failed} to retry, {drained.dead} dead")
        if digest:
            self.stdout.write(f"digests: {send_digests()} sent")
