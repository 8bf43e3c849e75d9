"""CSV export of billing transfers: the rows of the list the user is looking at (the same filters
in the query string), streamed through the one writer (`audit.csv.stream_csv`), audited. Only
connections on which the user holds the Auditor role are exported; others are a 404 if named.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.http import require_GET

from audit.csv import stream_csv
from orgportal.models import AwsConnection, Role
from orgportal.roles import connections_for, get_connection_for_user

from .models import ResponsibilityTransfer

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


def filter_transfers(queryset: QuerySet[ResponsibilityTransfer], params: QueryDict) -> QuerySet[ResponsibilityTransfer]:
    """The list page's filters, by their query-string names."""
    if params.get("direction"):
        queryset = queryset.filter(direction=params["direction"])
    if params.getlist("status"):
        queryset = queryset.filter(status__in=[s for s in params.getlist("status") if s])
    if params.get("type"):
        queryset = queryset.filter(type=params["type"])
    if params.get("start"):  # a start month, YYYY-MM
        try:
            year, month = (int(part) for part in params["start"].split("-", 1))
            queryset = queryset.filter(start_at__year=year, start_at__month=month)
        except ValueError:
            pass
    if params.get("party"):
        party = params["party"]
        queryset = queryset.filter(
            Q(source_account_id=party)
            | Q(target_account_id=party)
            | Q(source_email__iexact=party)
            | Q(target_email__iexact=party)
        )
    if params.get("q"):
        q = params["q"].strip()
        queryset = queryset.filter(
            Q(transfer_id__icontains=q)
            | Q(name__icontains=q)
            | Q(source_account_id__contains=q)
            | Q(target_account_id__contains=q)
        )
    return queryset


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    connections = export_connections(request, request.GET)
    queryset = filter_transfers(ResponsibilityTransfer.objects.filter(connection__in=connections), request.GET)
    rows: Any = queryset.order_by("connection_id", "start_at", "id").values_list(*_COLUMNS).iterator(chunk_size=2000)
    only = connections.first() if request.GET.get("connection") else None
    return stream_csv(
        request,
        filename="billing-transfers.csv",
        header=HEADER,
        rows=rows,
        audit_params={"what": "transfers", **{k: request.GET.getlist(k) for k in request.GET}},
        connection=only,
    )
