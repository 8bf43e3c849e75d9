"""CSV export of billing transfers: the rows of the list the user is looking at (the same filters
in the query string, one row per AWS transfer as the list shows it), streamed through the one
writer (`audit.csv.stream_csv`), audited (`orgportal.pages.list_export`), in the list's order.
Every role that sees the list may export it; another connection is a 404 if named. The last
column names the other connection that holds the same transfer, if the user reads one.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from orgportal.models import AwsConnection
from orgportal.pages import export_view

from .models import ResponsibilityTransfer
from .selectors import TRANSFERS
from .sync import TRANSFER

# The list's columns: the connection and what identifies a transfer, then the parties and dates
# as the sync mirrors them from AWS (in its order), then what the portal itself keeps.
_PARTIES_ON = TRANSFER.fields[TRANSFER.fields.index("source_account_id") :]
HEADER = (
    *("connection", "transfer_id", "name", "direction", "status", "type", *_PARTIES_ON),
    *("first_seen_at", "changed_at", "vanished_at", "also_held_by"),
)


def also_held_by(
    queryset: QuerySet[ResponsibilityTransfer], readable: QuerySet[AwsConnection]
) -> QuerySet[ResponsibilityTransfer]:
    """The name of another connection the user reads that caches the same AWS transfer (the
    other side), beside each row: the export is one row per transfer, like the list."""
    other = (
        ResponsibilityTransfer.objects.filter(connection__in=readable, transfer_id=OuterRef("transfer_id"))
        .exclude(pk=OuterRef("pk"))
        .order_by("pk")
        .values("connection__name")[:1]
    )
    return queryset.annotate(also_held_by=Subquery(other))


export = export_view(
    TRANSFERS, header=HEADER, filename="billing-transfers.csv", what="transfers", annotate=also_held_by
)
