"""CSV export of handshakes: the rows of the list the user is looking at (the same filters in the
query string), streamed through the one writer (`audit.csv.stream_csv`), audited. Auditor role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from audit.csv import csv_bytes, stream_csv
from transfers.exports import export_connections

from .selectors import filtered_handshakes

HEADER = (
    "connection",
    "handshake_id",
    "action",
    "state",
    "direction",
    "counterparty",
    "transfer_id",
    "transfer_start_at",
    "requested_at",
    "expires_at",
    "first_seen_at",
    "changed_at",
    "vanished_at",
)
_COLUMNS = ("connection__name", *HEADER[1:])


@login_required
@require_GET
def export(request: HttpRequest) -> StreamingHttpResponse:
    connections = export_connections(request, request.GET)
    # The list page's own filter parsing (handshakes.selectors), so the file holds the rows the list shows.
    queryset, *_ = filtered_handshakes(connections=list(connections), params=request.GET)
    rows: Any = (
        queryset.order_by("connection_id", "requested_at", "id").values_list(*_COLUMNS).iterator(chunk_size=2000)
    )
    only = connections.first() if request.GET.get("connection") else None
    return stream_csv(
        request,
        filename="handshakes.csv",
        body=csv_bytes(HEADER, rows),
        audit_params={"what": "handshakes", **{k: request.GET.getlist(k) for k in request.GET}},
        connection=only,
    )
