"""Reads of handshakes for the pages: the one "for this user" lookup, the list's filters, search,
sort and keyset pages, the detail's related rows, and the inbox's open invitations by deadline.

Action and state choices come from the botocore model's enums (`ActionType`, `HandshakeState`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import QueryDict

from orgportal.aws import enum_choices, shape_constraints
from orgportal.forms import form_field
from orgportal.listing import ListFilters, Listing, MultipleChoiceFilter, Sort, apply_filters
from orgportal.models import AwsConnection, Role
from orgportal.pages import change_lines, get_cached_for_user, party_account_ids, party_names
from orgportal.roles import User, connections_for
from transfers.models import ResponsibilityTransfer

from .models import OPEN_STATES, TRANSFER_ACTION, Direction, Handshake, answer_by

SORTS = (
    Sort("requested", "requested_at", "Requested"),
    Sort("expires", "expires_at", "Expires"),
    Sort("state", "state", "State"),
    Sort("changed", "changed_at", "Last change"),
)
DEFAULT_SORT = "-requested"

HANDSHAKE_ID_PATTERN = shape_constraints("HandshakeId")["pattern"]


class HandshakeFilters(ListFilters):
    """The list's query string (connection, party and search come with ListFilters)."""

    action = MultipleChoiceFilter(label="Action", required=False)
    state = MultipleChoiceFilter(label="State", required=False)
    direction = forms.ChoiceField(label="Direction", required=False, choices=[("", "Both"), *Direction.choices])

    def __init__(self, data: QueryDict, connections: list[AwsConnection]) -> None:
        super().__init__(data, connections)
        form_field(self, "action", MultipleChoiceFilter).choices = enum_choices("ActionType")
        form_field(self, "state", MultipleChoiceFilter).choices = enum_choices("HandshakeState")


def get_handshake_for_user(user: User, pk: int, role: str = Role.VIEWER) -> Handshake:
    """The handshake `pk` if it belongs to a connection `user` may read (404 otherwise) and `user`
    holds `role` there (403 otherwise): the one lookup of a handshake for pages and actions alike."""
    return get_cached_for_user(Handshake, user, pk, missing="No such handshake", role=role)


def filter_handshakes(
    queryset: QuerySet[Handshake], filters: dict[str, Any], connections: list[AwsConnection]
) -> QuerySet[Handshake]:
    """Apply the accepted filters (cleaned values of HandshakeFilters)."""
    queryset = apply_filters(
        queryset,
        filters,
        {"connection": "connection_id", "action": "action__in", "state": "state__in", "direction": "direction"},
    )
    if "party" in filters:
        # The other party by its id or email, or by its name in the Account cache.
        party = filters["party"]
        queryset = queryset.filter(
            Q(counterparty__iexact=party) | Q(counterparty__in=party_account_ids(connections, party))
        )
    if "q" in filters:
        q = filters["q"]
        if re.match(HANDSHAKE_ID_PATTERN, q):
            # A whole handshake id (the model's own pattern): an indexed lookup, not a scan.
            queryset = queryset.filter(handshake_id=q)
        else:
            queryset = queryset.filter(
                Q(handshake_id__icontains=q) | Q(counterparty__icontains=q) | Q(transfer_id__icontains=q)
            )
    return queryset


def open_all_features_handshakes(connection: AwsConnection) -> list[Handshake]:
    """The open handshakes of `connection`'s move to all features (its request and the members'
    approvals), soonest to expire first: the organization page shows how far it has come."""
    return list(
        Handshake.objects.filter(
            connection=connection,
            action__in=["ENABLE_ALL_FEATURES", "APPROVE_ALL_FEATURES"],
            state__in=OPEN_STATES,
            vanished_at__isnull=True,
        ).order_by("expires_at", "id")
    )


def name_counterparties(handshakes: list[Handshake], connections: list[AwsConnection]) -> None:
    names = party_names(connections, [h.counterparty for h in handshakes])
    for h in handshakes:
        h.counterparty_name = names.get(h.counterparty, "")  # type: ignore[attr-defined]


HANDSHAKES = Listing(
    model=Handshake,
    form=HandshakeFilters,
    apply=filter_handshakes,
    sorts=SORTS,
    default_sort=DEFAULT_SORT,
    annotate=name_counterparties,
    # The nested lists can be large and the list shows neither: leave them in the database.
    defer=("parties", "resources", "fingerprint"),
    # Several states (the inbox's "open" link asks for OPEN and REQUESTED): one indexed read each.
    split_on="state",
)


# --- detail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceNode:
    """One node of a handshake's nested Resources, with its own children."""

    type: str
    value: str
    children: list[ResourceNode]


def resource_tree(resources: list[dict[str, Any]] | None, depth: int = 0) -> list[ResourceNode]:
    # AWS nests at most a few levels; the bound keeps a hostile document from recursing forever.
    if depth > 10:
        return []
    return [
        ResourceNode(
            type=str(r.get("Type", "")),
            value=str(r.get("Value", "")),
            children=resource_tree(r.get("Resources") or [], depth + 1),
        )
        for r in resources or []
        if isinstance(r, dict)
    ]


@dataclass
class HandshakeDetail:
    handshake: Handshake
    parties: list[dict[str, str]]
    tree: list[ResourceNode]
    transfers: list[ResponsibilityTransfer]
    timeline: list[tuple[Any, list[Any]]]
    deadline: datetime | None


def handshake_detail(*, user: User, handshake: Handshake) -> HandshakeDetail:
    """The related rows of the detail page: parties named, the resources tree, the transfer this
    handshake carries (as the user's connections cached it) and every observed change."""
    connections = list(connections_for(user, Role.VIEWER))
    raw_parties = [p for p in handshake.parties or [] if isinstance(p, dict)]
    names = party_names(connections, [str(p.get("Id", "")) for p in raw_parties])
    parties = [
        {"id": str(p.get("Id", "")), "type": str(p.get("Type", "")), "name": names.get(str(p.get("Id", "")), "")}
        for p in raw_parties
    ]
    transfers: list[ResponsibilityTransfer] = []
    if handshake.transfer_id:
        transfers = list(
            ResponsibilityTransfer.objects.filter(
                connection__in=[c.pk for c in connections], transfer_id=handshake.transfer_id
            ).select_related("connection")
        )
        transfers.sort(key=lambda t: t.connection_id != handshake.connection_id)
    changes = list(handshake.changes.select_related("sync_run").order_by("observed_at", "id"))
    return HandshakeDetail(
        handshake=handshake,
        parties=parties,
        tree=resource_tree(handshake.resources),
        transfers=transfers,
        timeline=[(change, change_lines(change.kind, change.changes)) for change in changes],
        deadline=handshake.answer_by() if handshake.is_open else None,
    )


def handshakes_of_transfer(*, user: User, transfer: ResponsibilityTransfer) -> list[Handshake]:
    """The handshakes that carry `transfer` (the active one first, then this connection's) as the
    connections `user` may read cached them."""
    handshakes = list(
        Handshake.objects.filter(connection__in=connections_for(user, Role.VIEWER))
        .filter(Q(transfer_id=transfer.transfer_id) | Q(handshake_id=transfer.active_handshake_id or "-"))
        .select_related("connection")
        .order_by("-requested_at", "id")
    )
    handshakes.sort(
        key=lambda h: (h.handshake_id != transfer.active_handshake_id, h.connection_id != transfer.connection_id)
    )
    return handshakes


# --- the inbox ---------------------------------------------------------------------------------


def deadline_of(row: Any) -> datetime | None:
    """`answer_by` of a handshake or of a row of its values (action, expires_at, transfer_start_at)."""
    return answer_by(action=row.action, expires_at=row.expires_at, transfer_start_at=row.transfer_start_at)


INBOX_FIELDS = (
    "handshake_id",
    "action",
    "state",
    "direction",
    "counterparty",
    "requested_at",
    "expires_at",
    "transfer_id",
    "transfer_start_at",
    "vanished_at",
    "connection",
    "connection__name",
)


def open_invitations(*, connection_ids: list[int], direction: str, limit: int) -> list[Handshake]:
    """The `limit` open handshakes of `direction` with the soonest deadline.

    The deadline is min(expiry, start - 24 h), which no index holds. The soonest `limit` by
    deadline are always among the soonest `limit` by expiry together with the soonest `limit`
    transfer invitations by start (a row ahead of one of them by deadline is ahead of it on that
    row's own deciding column too), so indexed queries (two per open state) plus a merge give the
    exact answer.
    """
    if not connection_ids:
        return []
    base = Handshake.objects.filter(vanished_at__isnull=True, connection_id__in=connection_ids, direction=direction)
    # AWS always sets an expiry; a row without one (and without a start) has no deadline and
    # is counted in the total but not ranked. One indexed walk per open state (indexes
    # handshake_open_invitations and handshake_state_start): `state IN (...)` would make the
    # database sort every open row. The walks read only what ranks a row, and one more query
    # loads the `limit` rows shown: building up to 4 x limit whole rows (most of them dropped by
    # the merge) cost more than the walks themselves.
    walk = base.values_list("pk", "action", "expires_at", "transfer_start_at", named=True)
    candidates: dict[int, Any] = {}
    for state in OPEN_STATES:
        one = walk.filter(state=state)
        by_expiry = one.filter(expires_at__isnull=False).order_by("expires_at", "id")
        by_start = one.filter(action=TRANSFER_ACTION, transfer_start_at__isnull=False).order_by(
            "transfer_start_at", "id"
        )
        candidates.update((row.pk, row) for part in (by_expiry, by_start) for row in part[:limit])
    ranked = sorted(candidates.values(), key=lambda row: (deadline_of(row), row.pk))[:limit]
    # Only what the inbox shows (whole rows carry JSON lists and every connection column).
    shown = Handshake.objects.select_related("connection").only(*INBOX_FIELDS).in_bulk([row.pk for row in ranked])
    rows = [shown[row.pk] for row in ranked if row.pk in shown]
    for h in rows:
        deadline = h.answer_by()
        h.deadline = deadline  # type: ignore[attr-defined]
        h.deadline_is_accept_by = (  # type: ignore[attr-defined]
            deadline is not None and h.expires_at != deadline and h.action == TRANSFER_ACTION
        )
    return rows


# The inbox counts open invitations up to this many per direction and says "1,000+" beyond:
# a count reads every row it counts, and at 100,000 open invitations across a fleet that alone
# cost 30-85 ms a request on PostgreSQL. Past a thousand the exact figure helps nobody.
OPEN_COUNT_CAP = 1000


def open_invitation_counts(*, connection_ids: list[int]) -> dict[str, int]:
    """How many handshakes are open in each direction, up to OPEN_COUNT_CAP + 1 (one query).
    Counted always, not only when a list is full, so the inbox's query count never varies."""
    if not connection_ids:
        return {direction: 0 for direction in Direction.values}
    # One count per (direction, state), each over at most cap + 1 rows: with equality on both
    # leading columns of the index handshake_open_invitations each reads only its own rows, from
    # the index alone, and stops at the cap (a GROUP BY over `direction IN (...) AND state IN
    # (...)` made PostgreSQL walk every row of both directions). The limited subqueries are put
    # side by side in one SELECT: a LIMIT inside a UNION is not portable (SQLite refuses it).
    base = Handshake.objects.filter(vanished_at__isnull=True, connection_id__in=connection_ids)
    limit = OPEN_COUNT_CAP + 1
    columns: list[str] = []
    params: list[Any] = []
    order: list[str] = []
    for direction in Direction.values:
        for state in OPEN_STATES:
            rows = base.filter(direction=direction, state=state).order_by().values_list("pk", flat=True)[:limit]
            sql, part_params = rows.query.sql_with_params()
            # Django compiled `sql`; every value travels in `params`.
            columns.append(f"(SELECT COUNT(*) FROM ({sql}) AS part{len(columns)})")  # noqa: S608
            params.extend(part_params)
            order.append(direction)
    with connections[base.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), params)
        found = cursor.fetchone()
    counts = {direction: 0 for direction in Direction.values}
    for direction, n in zip(order, found, strict=True):
        counts[direction] += n
    return {direction: min(n, limit) for direction, n in counts.items()}


def count_label(n: int) -> str:
    """An open count as the inbox says it: "1,000+" past the cap."""
    return f"{OPEN_COUNT_CAP:,}+" if n > OPEN_COUNT_CAP else f"{n:,}"
