"""Reads of billing transfers for the pages: the one "for this user" lookup, the list's filters,
search, sort and keyset pages, and the detail's related rows. Everything reads the cache.

The filter choices (status, type) come from the botocore model's enums, so a status AWS adds
appears without a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict

from orgportal.aws import enum_choices
from orgportal.forms import form_field
from orgportal.listing import ListFilters, Listing, MultipleChoiceFilter, Sort, apply_filters
from orgportal.models import AwsConnection, Role
from orgportal.pages import change_lines, get_cached_for_user, party_account_ids, party_names
from orgportal.roles import User, connections_for

from .models import Direction, ResponsibilityTransfer, TransferChange

SORTS = (
    Sort("start", "start_at", "Start"),
    Sort("status", "status", "Status"),
    Sort("changed", "changed_at", "Last change"),
)
DEFAULT_SORT = "-start"

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(value: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a YYYY-MM month, in UTC."""
    match = _MONTH.match(value)
    if not match:
        raise ValueError(value)
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


class TransferFilters(ListFilters):
    """The list's query string (connection, party and search come with ListFilters)."""

    direction = forms.ChoiceField(label="Direction", required=False, choices=[("", "Both"), *Direction.choices])
    status = MultipleChoiceFilter(label="Status", required=False)
    type = forms.ChoiceField(label="Type", required=False)
    start = forms.RegexField(
        label="Start month", required=False, regex=_MONTH, error_messages={"invalid": "use a month like 2025-07."}
    )

    def __init__(self, data: QueryDict, connections: list[AwsConnection]) -> None:
        super().__init__(data, connections)
        form_field(self, "status", MultipleChoiceFilter).choices = enum_choices("ResponsibilityTransferStatus")
        form_field(self, "type", forms.ChoiceField).choices = [
            ("", "Every type"),
            *enum_choices("ResponsibilityTransferType"),
        ]


def get_transfer_for_user(user: User, pk: int, role: str = Role.VIEWER) -> ResponsibilityTransfer:
    """The transfer `pk` if it belongs to a connection `user` may read (404 otherwise) and `user`
    holds `role` there (403 otherwise): the one lookup of a transfer for pages and actions alike."""
    return get_cached_for_user(ResponsibilityTransfer, user, pk, missing="No such billing transfer", role=role)


def filter_transfers(
    queryset: QuerySet[ResponsibilityTransfer], filters: dict[str, Any], connections: list[AwsConnection]
) -> QuerySet[ResponsibilityTransfer]:
    """Apply the accepted filters (cleaned values of TransferFilters)."""
    queryset = apply_filters(
        queryset,
        filters,
        {"connection": "connection_id", "direction": "direction", "status": "status__in", "type": "type"},
    )
    if "start" in filters:
        start, end = month_range(filters["start"])
        queryset = queryset.filter(start_at__gte=start, start_at__lt=end)
    if "party" in filters:
        party = filters["party"]
        match = Q(source_email__iexact=party) | Q(target_email__iexact=party)
        accounts = party_account_ids(connections, party)
        if accounts:
            match |= Q(source_account_id__in=accounts) | Q(target_account_id__in=accounts)
        queryset = queryset.filter(match)
    if "q" in filters:
        q = filters["q"]
        queryset = queryset.filter(
            Q(transfer_id__icontains=q)
            | Q(name__icontains=q)
            | Q(source_account_id__contains=q)
            | Q(target_account_id__contains=q)
            | Q(source_email__icontains=q)
            | Q(target_email__icontains=q)
        )
    return one_row_per_transfer(queryset)


def one_row_per_transfer(queryset: QuerySet[ResponsibilityTransfer]) -> QuerySet[ResponsibilityTransfer]:
    """One row per AWS transfer id: where the user's connections hold both sides of a transfer
    (the payer's caches it inbound, the source's outbound), only the first row (lowest pk) that
    passes the same filters stays. Said as a NOT EXISTS over the filtered rows themselves, so a
    filter that matches one side only (a direction, a connection) shows that side, the list
    and its export agree, and keyset paging still walks one indexed order."""
    earlier = queryset.filter(transfer_id=OuterRef("transfer_id"), pk__lt=OuterRef("pk"))
    return queryset.filter(~Exists(earlier))


def attach_sides(transfers: list[ResponsibilityTransfer], connections: list[AwsConnection]) -> None:
    """Attach `sides`: every cached row of each transfer's id on the user's connections (the
    shown row itself among them), in one query, so a row says which sides the user holds and
    acts with the side whose role allows an action."""
    by_pk = {c.pk: c for c in connections}
    found: dict[str, list[ResponsibilityTransfer]] = {}
    wanted = {t.transfer_id for t in transfers}
    if wanted:
        rows = ResponsibilityTransfer.objects.filter(connection_id__in=list(by_pk), transfer_id__in=wanted)
        shown = {t.pk: t for t in transfers}
        for row in rows.order_by("pk"):
            row = shown.get(row.pk, row)
            row.connection = by_pk[row.connection_id]
            found.setdefault(row.transfer_id, []).append(row)
    for t in transfers:
        t.sides = found.get(t.transfer_id) or [t]  # type: ignore[attr-defined]


def annotate_page(transfers: list[ResponsibilityTransfer], connections: list[AwsConnection]) -> None:
    """What a page of the list shows beside each row's fields: the parties' names and the sides held."""
    name_parties(transfers, connections)
    attach_sides(transfers, connections)


def name_parties(transfers: list[ResponsibilityTransfer], connections: list[AwsConnection]) -> None:
    """Attach `source_name`/`target_name` (from the Account cache) to each transfer."""
    names = party_names(connections, [a for t in transfers for a in (t.source_account_id, t.target_account_id)])
    for t in transfers:
        t.source_name = names.get(t.source_account_id, "")  # type: ignore[attr-defined]
        t.target_name = names.get(t.target_account_id, "")  # type: ignore[attr-defined]


TRANSFERS = Listing(
    model=ResponsibilityTransfer,
    form=TransferFilters,
    apply=filter_transfers,
    sorts=SORTS,
    default_sort=DEFAULT_SORT,
    annotate=annotate_page,
)


def known_organizations(user: User, *, inviting: AwsConnection) -> list[tuple[str, str]]:
    """(management account id, name) of the organizations the portal knows across `user`'s
    connections, for the invitation's picker: every one but `inviting` itself (an organization
    cannot pay for itself), by name."""
    rows = (
        connections_for(user, Role.VIEWER)
        .exclude(management_account_id="")
        .exclude(management_account_id=inviting.management_account_id)
        .order_by("name")
        .values_list("management_account_id", "name")
    )
    return list(dict(rows).items())


@dataclass
class TransferDetail:
    transfer: ResponsibilityTransfer
    timeline: list[tuple[TransferChange, list[Any]]]
    # The other connections of the user that cache the same AWS transfer (its other side).
    other_sides: list[ResponsibilityTransfer]


def transfer_detail(*, user: User, transfer: ResponsibilityTransfer) -> TransferDetail:
    """The related rows of the detail page: the parties named and every observed change (the
    handshakes that carry the transfer come from the handshakes area's `transfer_handshakes` tag)."""
    connections = list(connections_for(user, Role.VIEWER))
    name_parties([transfer], connections)
    attach_sides([transfer], connections)
    changes = list(transfer.changes.select_related("sync_run").order_by("observed_at", "id"))
    return TransferDetail(
        transfer=transfer,
        timeline=[(change, change_lines(change.kind, change.changes)) for change in changes],
        other_sides=[side for side in transfer.sides if side.pk != transfer.pk],  # type: ignore[attr-defined]
    )
