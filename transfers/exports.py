"""CSV export of billing transfers: the rows of the list the user is looking at (the same filters
in the query string), streamed through the one writer (`audit.csv.stream_csv`), audited
(`orgportal.pages.list_export`), in the list's order. Every role that sees the list may export
it; another connection is a 404 if named.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from orgportal.pages import list_export

from .selectors import TRANSFERS

HEADER = (
    "connection",
    "transfer_id",
    "name",
    "direction",
    "status",
    "type",
    "source_account_id",
    "source_email",
    "target_account_id",
    "target_email",
    "start_at",
    "end_at",
    "active_handshake_id",
    "first_seen_at",
    "changed_at",
    "vanished_at",
)


@login_required
@require_GET
def export(request: HttpRequest) -> StreamingHttpResponse:
    return list_export(
        request,
        TRANSFERS,
        header=HEADER,
        filename="billing-transfers.csv",
        what="transfers",
    )
