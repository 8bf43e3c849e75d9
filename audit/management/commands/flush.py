"""`flush`, aware of the audit trail's guard.

Django's test runner empties the database with `flush` after every transactional test (live
server, concurrency tests). The guard triggers rightly refuse that, so under the test settings
this lifts them for the flush and puts them back in the same transaction. Outside tests `flush`
stays refused: emptying the database must not be a way to erase the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands import flush
from django.db import connections, transaction

from audit import guard


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        if not getattr(settings, "TESTING", False):
            super().handle(**options)
            return
        connection = connections[options["database"]]
        with transaction.atomic(using=connection.alias):
            guard.remove(connection)
            super().handle(**options)
            guard.install(connection)
