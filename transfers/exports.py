"""CSV export of billing transfers: the rows of the list the user is looking at (the same filters
in the query string), streamed through the one writer (`audit.csv.stream_csv`), audited. Only
connections on which the user holds the Auditor role are exported; others are a 404 if named.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.views.decorators.http import require_GET

from audit.csv import csv_bytes, stream_csv
from orgportal.models import AwsConnection, Role
from orgportal.roles import connections_for, get_connection_for_user

from .selectors import filtered_transfers

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
_COLUMNS = ("connection__name", *HEADER[1:])


def export_connections(request: HttpRequest, params: QueryDict) -> QuerySet[AwsConnection]:
    """The connections to export: the one named in `connection` (404 unseen, 403 without the
    Auditor role), else every connection where the user is an auditor (403 if none)."""
    named = params.get("connection")
    if named:
        connection = get_connection_for_user(request.user, named, Role.AUDITOR)
        return AwsConnection.objects.filter(pk=connection.pk)
    connections = connections_for(request.user, Role.AUDITOR)
    if not connections.exists():
        raise PermissionDenied("Exports need the Auditor role.")
    return connections


@login_required
@require_GET
def export(request: HttpRequest) -> StreamingHttpResponse:
    connections = export_connections(request, request.GET)
    # The list page's own filter parsing (transfers.selectors), so the file holds the rows the list shows.
    queryset, *_ = filtered_transfers(connections=list(connections), params=request.GET)
    rows: Any = queryset.order_by("connection_id", "start_at", "id").values_list(*_COLUMNS).iterator(chunk_size=2000)
    only = connections.first() if request.GET.get("connection") else None
    return stream_csv(
        request,
        filename="billing-transfers.csv",
        body=csv_bytes(HEADER, rows),
        audit_params={"what": "transfers", **{k: request.GET.getlist(k) for k in request.GET}},
        connection=only,
    )
