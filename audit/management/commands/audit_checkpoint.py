"""`manage.py audit_checkpoint`: verify the rows since the last checkpoint, then sign and publish
the chain's head (beat also does this every AUDIT_CHECKPOINT_SECONDS)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import keys
from audit.verify import ChainBroken, checkpoint_now, describe


class Command(BaseCommand):
    help = "Sign the audit chain's head and append it to the checkpoint file outside the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--public-key", action="store_true", help="Print the public key that checks the checkpoints, and stop."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["public_key"]:
            key = keys.current()
            self.stdout.write(f"{key.key_id} ed25519 {key.public_key_text()}")
            return
        try:
            checkpoint = checkpoint_now(using=options["database"])
        except ChainBroken as broken:
            raise CommandError(f"No checkpoint signed: {broken.problem.message}", returncode=1) from None
        self.stdout.write(describe(checkpoint) + ".")
