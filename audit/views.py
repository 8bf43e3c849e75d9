"""The audit page (auditors and superusers) and its CSV export, both honouring the same filters."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from orgportal.models import AwsConnection

from . import selectors
from .csv import stream_csv
from .forms import AuditFilterForm
from .selectors import AuditFilters

PAGE_SIZE = 50


def _filters_for(request: HttpRequest) -> tuple[AuditFilterForm, AuditFilters]:
    """The filter form bound to the query string; 404 for a connection the user may not audit."""
    if not selectors.can_audit(request.user):
        raise PermissionDenied("The audit trail is for auditors.")
    connections = selectors.auditable_connections(request.user)
    form = AuditFilterForm(request.GET or None, connections=connections)
    if form.is_bound and not form.is_valid() and "connection" in form.errors:
        # Another connection's trail does not exist for this user, like every other object of it.
        raise Http404("No such connection")
    return form, form.filters() if form.is_bound else AuditFilters()


def _cursor(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise Http404("No such page") from None


def _without_paging(query: QueryDict) -> str:
    query = query.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return query.urlencode()


@require_GET
@login_required
def events(request: HttpRequest) -> HttpResponse:
    form, filters = _filters_for(request)
    page = selectors.page_of(
        filters.apply(selectors.events_for(request.user)),
        before=_cursor(request.GET.get("before")),
        after=_cursor(request.GET.get("after")),
        size=PAGE_SIZE,
    )
    template = "audit/events.html"
    if getattr(request, "htmx", False) and not request.htmx.boosted:  # type: ignore[attr-defined]
        template += "#results"
    return render(
        request,
        template,
        {"form": form, "page": page, "query": _without_paging(request.GET)},
    )


@require_GET
@login_required
def export(request: HttpRequest) -> StreamingHttpResponse:
    _form, filters = _filters_for(request)
    connection = (
        AwsConnection.objects.filter(pk=filters.connection_id).first() if filters.connection_id is not None else None
    )
    return stream_csv(
        request,
        filename=f"audit-{timezone.now():%Y%m%d-%H%M%S}.csv",
        body=selectors.export_csv(filters.apply(selectors.events_for(request.user))),
        audit_params={"export": "audit", **filters.as_params()},
        connection=connection,
    )
