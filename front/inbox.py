"""The inbox (home page): what needs someone's answer, recent changes, each connection's freshness.

Read-only like every page: it reads the cache the sync writes, never AWS. A fixed number of
queries however many connections, invitations or changes there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from handshakes.action_views import available_actions
from handshakes.models import Direction, HandshakeChange
from handshakes.selectors import count_label, name_counterparties, open_invitation_counts, open_invitations
from orgportal.history import latest_changes
from orgportal.models import AwsConnection, Role, SyncRun
from orgportal.pages import Freshness, change_lines, visible_connections
from orgportal.roles import holders, roles_by_connection
from transfers.models import TransferChange

INVITATIONS_SHOWN = 20
CHANGES_SHOWN = 20
# Past this many connections the inbox lists only those that need a look and counts the rest: a
# fleet's two hundred "synced a minute ago" rows hide the one that failed (and cost the page
# more than everything else on it together).
CONNECTIONS_LISTED = 12


def connections_to_list(connections: list[AwsConnection]) -> tuple[list[AwsConnection], int]:
    """(the connections the inbox lists, how many more it only counts). Up to CONNECTIONS_LISTED
    every one; beyond, those that need a look — a last sync that failed or was interrupted, data
    out of date or never synced, syncing paused — up to CONNECTIONS_LISTED of them."""
    if len(connections) <= CONNECTIONS_LISTED:
        return connections, 0

    def needs_a_look(c: AwsConnection) -> bool:
        run = c.last_run  # type: ignore[attr-defined]
        failed = run is not None and run.status in (SyncRun.Status.FAILED, SyncRun.Status.INTERRUPTED)
        return failed or not c.sync_enabled or c.freshness() != "fresh"

    listed = [c for c in connections if needs_a_look(c)][:CONNECTIONS_LISTED]
    return listed, len(connections) - len(listed)


@dataclass(frozen=True)
class RecentChange:
    """One line of "recent changes": a transfer's or a handshake's observed change."""

    observed_at: datetime
    kind: str
    kind_label: str
    what: str  # "transfer" or "handshake"
    obj: Any
    lines: list[Any]


def recent_changes(connection_ids: list[int], limit: int) -> list[RecentChange]:
    """The latest observed changes of transfers and handshakes across these connections (2 queries)."""
    if not connection_ids:
        return []
    transfers = (
        latest_changes(TransferChange, connection_ids, limit)
        .select_related("transfer", "transfer__connection")
        # Only what a change line shows (whole rows with every connection column cost more than the walk).
        .only("observed_at", "kind", "changes", "transfer__transfer_id", "transfer__name", "transfer__connection__name")
        .order_by("-observed_at", "-id")[:limit]
    )
    handshakes = (
        latest_changes(HandshakeChange, connection_ids, limit)
        .select_related("handshake", "handshake__connection")
        .only(
            "observed_at",
            "kind",
            "changes",
            "handshake__handshake_id",
            "handshake__action",
            "handshake__connection__name",
        )
        .order_by("-observed_at", "-id")[:limit]
    )
    merged = [
        RecentChange(
            c.observed_at, c.kind, c.get_kind_display(), "transfer", c.transfer, change_lines(c.kind, c.changes)
        )
        for c in transfers
    ] + [
        RecentChange(
            c.observed_at, c.kind, c.get_kind_display(), "handshake", c.handshake, change_lines(c.kind, c.changes)
        )
        for c in handshakes
    ]
    merged.sort(key=lambda c: c.observed_at, reverse=True)
    return merged[:limit]


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    connections = visible_connections(request.user)
    ids = [c.pk for c in connections]
    received = open_invitations(connection_ids=ids, direction=Direction.RECEIVED, limit=INVITATIONS_SHOWN)
    sent = open_invitations(connection_ids=ids, direction=Direction.SENT, limit=INVITATIONS_SHOWN)
    totals = open_invitation_counts(connection_ids=ids)
    listed, more = connections_to_list(connections)
    name_counterparties([*received, *sent], connections)
    roles = roles_by_connection(request.user)
    for handshake in received:
        handshake.actions = available_actions(handshake, roles[handshake.connection_id])  # type: ignore[attr-defined]
    # Never promise an answer the user may not give: a row the user cannot answer names who can
    # (the connection's approvers, one query), and "your answer" is said only when every one is theirs.
    answerers = holders({h.connection_id for h in received if not h.actions}, Role.APPROVER)  # type: ignore[attr-defined]
    for handshake in received:
        handshake.answerers = answerers.get(handshake.connection_id, [])  # type: ignore[attr-defined]
    return render(
        request,
        "orgportal/inbox.html",
        {
            "connections": connections,
            "listed_connections": listed,
            "more_connections": more,
            "freshness": Freshness(connections),
            "received": received,
            "received_total": totals[Direction.RECEIVED],
            "received_total_label": count_label(totals[Direction.RECEIVED]),
            "yours_to_answer": bool(received) and all(h.actions for h in received),  # type: ignore[attr-defined]
            "sent": sent,
            "sent_total": totals[Direction.SENT],
            "sent_total_label": count_label(totals[Direction.SENT]),
            "changes": recent_changes(ids, CHANGES_SHOWN),
            # Read once for every section that asks what the user may do (the approvals partial too).
            "roles": roles,
        },
    )
