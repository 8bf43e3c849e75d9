"""CSV export of handshakes: the rows of the list the user is looking at (the same filters in the
query string), streamed through the one writer (`audit.csv.stream_csv`), audited. Auditor role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.http import require_GET

from audit.csv import stream_csv
from transfers.exports import export_connections

from .models import Handshake

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


def filter_handshakes(queryset: QuerySet[Handshake], params: QueryDict) -> QuerySet[Handshake]:
    """The list page's filters, by their query-string names."""
    if params.get("direction"):
        queryset = queryset.filter(direction=params["direction"])
    if params.getlist("state"):
        queryset = queryset.filter(state__in=[s for s in params.getlist("state") if s])
    if params.getlist("action"):
        queryset = queryset.filter(action__in=[a for a in params.getlist("action") if a])
    if params.get("party"):
        queryset = queryset.filter(counterparty__iexact=params["party"])
    if params.get("q"):
        q = params["q"].strip()
        queryset = queryset.filter(
            Q(handshake_id__icontains=q) | Q(counterparty__icontains=q) | Q(transfer_id__icontains=q)
        )
    return queryset


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    connections = export_connections(request, request.GET)
    queryset = filter_handshakes(Handshake.objects.filter(connection__in=connections), request.GET)
    rows: Any = (
        queryset.order_by("connection_id", "requested_at", "id").values_list(*_COLUMNS).iterator(chunk_size=2000)
    )
    only = connections.first() if request.GET.get("connection") else None
    return stream_csv(
        request,
        filename="handshakes.csv",
        header=HEADER,
        rows=rows,
        audit_params={"what": "handshakes", **{k: request.GET.getlist(k) for k in request.GET}},
        connection=only,
    )
