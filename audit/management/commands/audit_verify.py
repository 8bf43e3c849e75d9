"""`manage.py audit_verify`: check the audit trail's hash chain against its signed checkpoints;
exit 1 naming the first broken row or checkpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verify import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit trail's keyed hash chain, the signed checkpoints published outside the database, "
        "and the triggers guarding it. Exits 1 on the first break."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument("--chunk-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain(using=options["database"], chunk_size=options["chunk_size"])
        if report.problem is not None:
            raise CommandError(f"{report.problem.message} ({report.checked} rows verified before it.)", returncode=1)
        last = f", last row {report.last_id}" if report.last_id is not None else ""
        against = ""
        if report.latest_checkpoint is not None:
            plural = "" if report.checkpoints == 1 else "s"
            against = (
                f" Checked against {report.checkpoints} signed checkpoint{plural},"
                f" the latest signed {report.latest_checkpoint.signed_at}."
            )
        self.stdout.write(f"OK: {report.checked} audit rows verified{last}.{against}")
