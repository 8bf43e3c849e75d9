"""What every read-only page shares: the user's connections loaded once, how fresh their data is,
party names from the Account cache, a change's history turned into readable lines, the "for this
user" lookup of one cached row, and the one view flow of the list pages and of their CSV exports.

Pages never call AWS: everything here reads the cache the sync writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from audit.csv import csv_bytes, stream_csv

from .listing import C, Listing, parse_ordering, sort_links
from .models import Account, AwsConnection, Role, SyncRun
from .roles import (
    User,
    connections_for,
    get_connection_for_user,
    request_user,
    require_role,
    roles_by_connection,
)

_ACCOUNT_ID = re.compile(r"^\d{12}$")


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it: `request.htmx` says whether (and from
    which element) htmx sent it. Every view asks it so, and only so."""

    htmx: HtmxDetails


def visible_connections(user: User) -> list[AwsConnection]:
    """The connections `user` may read, each with its last SyncRun attached as `last_run` (2 queries)."""
    latest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-started_at", "-id").values("id")[:1]
    connections: list[AwsConnection] = list(
        connections_for(user).annotate(last_run_id=Subquery(latest)).order_by("name")
    )
    run_ids = [c.last_run_id for c in connections if c.last_run_id]  # type: ignore[attr-defined]
    runs = SyncRun.objects.in_bulk(run_ids) if run_ids else {}
    for c in connections:
        c.last_run = runs.get(c.last_run_id)  # type: ignore[attr-defined]
    return connections


def get_cached_for_user(model: type[C], user: User, pk: int, *, missing: str, role: str = Role.VIEWER) -> C:
    """The cached row `pk` of `model` if it belongs to a connection `user` may read (otherwise a
    404 that says `missing`: the portal does not confirm another connection's rows exist) and on
    which `user` holds `role` (otherwise a 403). Each kind's "for this user" helper is this."""
    try:
        row = (
            model._default_manager.filter(connection__in=connections_for(user, Role.VIEWER))
            # The credentials too: an action's AWS call needs them, so it costs no query of its own.
            .select_related("connection", "connection__read_credentials", "connection__action_credentials")
            .get(pk=pk)
        )
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404(missing) from None
    require_role(user, row.connection, role)
    return row


@dataclass(frozen=True)
class Freshness:
    """How fresh the data of a page is, over the connections it draws on."""

    connections: Sequence[AwsConnection]

    @property
    def single(self) -> AwsConnection | None:
        return self.connections[0] if len(self.connections) == 1 else None

    @property
    def oldest(self) -> datetime | None:
        synced = [c.last_synced_at for c in self.connections if c.last_synced_at is not None]
        return min(synced) if synced else None

    @property
    def never(self) -> list[AwsConnection]:
        return [c for c in self.connections if c.last_synced_at is None]

    @property
    def stale(self) -> list[AwsConnection]:
        return [c for c in self.connections if c.freshness() == "stale"]

    @property
    def failed(self) -> list[AwsConnection]:
        return [c for c in self.connections if c.last_sync_ok is False]

    @property
    def state(self) -> str:
        """'never' (nothing synced yet), 'stale' (some data is old or missing) or 'fresh'."""
        if not self.connections or len(self.never) == len(self.connections):
            return "never"
        if self.never or self.stale:
            return "stale"
        return "fresh"


def party_names(connections: Iterable[AwsConnection], account_ids: Iterable[str]) -> dict[str, str]:
    """account id -> name, from the Account cache of the user's own connections and from the
    connections' own management accounts (one query). Unknown ids are simply absent."""
    connections = list(connections)
    wanted = {a for a in account_ids if a}
    names: dict[str, str] = {}
    if wanted and connections:
        rows = (
            Account.objects.filter(connection__in=[c.pk for c in connections], account_id__in=wanted)
            .exclude(name="")
            .values_list("account_id", "name")
        )
        names.update(rows)
    for c in connections:
        # The portal's own name for an organization wins where the account is its management account.
        for account_id in (c.management_account_id, c.account_id):
            if account_id in wanted and account_id not in names:
                names[account_id] = c.name
    return names


def party_account_ids(connections: Sequence[AwsConnection], party: str) -> list[str]:
    """Account ids a list's party filter names: a 12-digit id as is, else the accounts (Account
    cache) and connections (their management accounts) of that name, case-insensitively."""
    if _ACCOUNT_ID.match(party):
        return [party]
    ids = set(
        Account.objects.filter(connection__in=[c.pk for c in connections], name__iexact=party).values_list(
            "account_id", flat=True
        )
    )
    ids |= {c.management_account_id for c in connections if c.name.lower() == party.lower() and c.management_account_id}
    return sorted(ids)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    has_old: bool


def change_lines(kind: str, changes: dict[str, Any]) -> list[FieldChange]:
    """The fields of one observed change: `changed` rows hold {field: [old, new]}, `created` rows
    hold {field: value} (what it was when first seen)."""
    lines = []
    for name, value in sorted((changes or {}).items()):
        if kind in ("changed", "reappeared", "action") and isinstance(value, list) and len(value) == 2:
            lines.append(FieldChange(name, value[0], value[1], True))
        else:
            lines.append(FieldChange(name, None, value, False))
    return lines


# --- the list pages ----------------------------------------------------------------------------


def list_view(
    request: HtmxHttpRequest,
    listing: Listing[C, Any],
    *,
    template: str,
    actions: Callable[[C, Mapping[int, frozenset[str]]], Sequence[tuple[Any, ...]]],
    url_name: str,
    export_url_name: str,
) -> HttpResponse:
    """A list page (`listing` over the user's connections, one page as the query string asks):
    the whole `template`, or for htmx only its `#rows` partial. Read-only: never calls AWS.
    `actions(row, roles)` says what the user may do on a row, given their roles on every
    connection (a row may stand for rows of several connections: a transfer's two sides)."""
    user = request_user(request)
    connections = visible_connections(user)
    result = listing.page(connections=connections, params=request.GET)
    roles = roles_by_connection(user)
    for row in result.page.rows:
        # What the user may do on each row, from the actions room's own rule (no query per row).
        row.actions = actions(row, roles)  # type: ignore[attr-defined]
    context = {
        "result": result,
        "page": result.page,
        "notices": result.notices,
        "freshness": Freshness(result.connections),
        "links": sort_links(listing.sorts, result.page.ordering),
        "ordering": result.page.ordering,
        "has_connections": bool(connections),
        "list_url": reverse(url_name),
        # The CSV export takes the same query string (`Listing.filtered`, the same ordering):
        # whoever sees the list may take it away as a file.
        "export_url": reverse(export_url_name),
        "can_export": bool(connections),
    }
    if request.htmx:
        template += "#rows"
    return render(request, template, context)


def list_page(
    listing: Listing[C, Any],
    name: str,
    template: str,
    actions: Callable[[C, Mapping[int, frozenset[str]]], Sequence[tuple[Any, ...]]],
) -> Callable[[HtmxHttpRequest], HttpResponse]:
    """The view of the list page of `name` (its URLs are `<name>_list` and `<name>_export`):
    `list_view` with this list's arguments, signed in, GET only."""

    @login_required
    @require_GET
    def view(request: HtmxHttpRequest) -> HttpResponse:
        return list_view(
            request,
            listing,
            template=template,
            actions=actions,
            url_name=f"{name}_list",
            export_url_name=f"{name}_export",
        )

    return view


def read_urls(name: str, *, list: Any, detail: Any, export: Any) -> list[URLPattern]:
    """The read-only routes of an area whose rows are `name`: its list (`<name>_list`), a row's
    detail (`<name>_detail`) and the list's CSV export (`<name>_export`)."""
    return [
        path("", list, name=f"{name}_list"),
        path("<int:pk>/", detail, name=f"{name}_detail"),
        path("export.csv", export, name=f"{name}_export"),
    ]


def own_row(actions: Callable[[C, frozenset[str]], Sequence[tuple[Any, ...]]]) -> Callable[..., Any]:
    """`actions(row, roles)` of a list whose rows each stand for one cached row: the roles the
    user holds on that row's connection."""
    return lambda row, roles: actions(row, roles[row.connection_id])


def detail_page(
    get_for_user: Callable[[User, int], C], related: Callable[..., Any], name: str, template: str
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The view of a cached row's detail page: the row through its "for this user" helper (404 /
    403), as `name`; its related rows (`related(user=..., <name>=row)`) as `detail`; how fresh."""

    @login_required
    @require_GET
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        row = get_for_user(request.user, pk)
        detail = related(user=request.user, **{name: row})
        return render(request, template, {name: row, "detail": detail, "freshness": Freshness([row.connection])})

    return view


def export_connections(request: HttpRequest, params: QueryDict) -> QuerySet[AwsConnection]:
    """The connections to export: the one named in `connection` (404 unseen), else every
    connection the user may read (403 if none). Every role that sees a list may export it:
    finance teams (viewers) live in spreadsheets, and the file holds nothing the page does not."""
    named = params.get("connection")
    if named:
        connection = get_connection_for_user(request.user, named, Role.VIEWER)
        return AwsConnection.objects.filter(pk=connection.pk)
    connections = connections_for(request.user, Role.VIEWER)
    if not connections.exists():
        raise PermissionDenied("Exports need a role on a connection.")
    return connections


def list_export(
    request: HttpRequest,
    listing: Listing[Any, Any],
    *,
    header: tuple[str, ...],
    filename: str,
    what: str,
    annotate: Callable[[QuerySet[Any], QuerySet[AwsConnection]], QuerySet[Any]] | None = None,
) -> StreamingHttpResponse:
    """The CSV export of a list: the rows the list page shows for the same query string (its own
    filter parsing, `listing.filtered`) on the connections `export_connections` allows, in the
    page's own order (the `sort` of the query string: NULLs last, ties by id), every page of
    it, streamed through the one writer (`audit.csv.stream_csv`), audited. The first column is
    the connection's name, the others are the model's fields named in `header`; times are
    written in UTC with a Z. `annotate(queryset, readable)` adds the columns that are not the
    model's own fields, given every connection the user may read."""
    connections = export_connections(request, request.GET)
    queryset, *_ = listing.filtered(connections=list(connections), params=request.GET)
    if annotate is not None:
        queryset = annotate(queryset, connections_for(request.user, Role.VIEWER))
    ordering, _notice = parse_ordering(request.GET.get("sort"), listing.sorts, listing.default_sort)
    f = F(ordering.sort.field)
    order = (f.desc(nulls_last=True), "-pk") if ordering.descending else (f.asc(nulls_last=True), "pk")
    columns = ("connection__name", *header[1:])
    rows: Any = queryset.order_by(*order).values_list(*columns).iterator(chunk_size=2000)
    only = connections.first() if request.GET.get("connection") else None
    return stream_csv(
        request,
        filename=filename,
        body=csv_bytes(header, rows),
        audit_params={"what": what, **{k: request.GET.getlist(k) for k in request.GET}},
        connection=only,
    )


def export_view(
    listing: Listing[Any, Any],
    *,
    header: tuple[str, ...],
    filename: str,
    what: str,
    annotate: Callable[[QuerySet[Any], QuerySet[AwsConnection]], QuerySet[Any]] | None = None,
) -> Callable[[HttpRequest], StreamingHttpResponse]:
    """The view of a list's CSV export (`list_export`), signed in, GET only."""

    @login_required
    @require_GET
    def view(request: HttpRequest) -> StreamingHttpResponse:
        return list_export(request, listing, header=header, filename=filename, what=what, annotate=annotate)

    return view
