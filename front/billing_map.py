"""The billing map (a top-floor page, like the inbox): who pays for whom across every connection
the user may read, drawn as server-rendered SVG — organizations as nodes, billing transfers as
edges labelled with their status and start/end months, chains left to right — and a month by
month calendar of starts, ends and answer-by deadlines, with a table behind the drawing.

Read-only like every page: it reads the cache the sync writes. A transfer held by both sides
(the payer's connection sees it inbound, the source's outbound) is drawn once, by its AWS id.
The SVG carries no script and no style attribute (the CSP forbids both): classes only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from handshakes.models import Handshake
from handshakes.selectors import deadline_of
from orgportal import labels
from orgportal.deadlines import RULE, urgency
from orgportal.pages import Freshness, party_names, visible_connections
from orgportal.roles import request_user
from transfers.models import ResponsibilityTransfer

NODE_W, NODE_H = 230, 52
COL_GAP, ROW_GAP = 150, 34
MARGIN = 24
SHOWN_STATUSES = ("REQUESTED", "ACCEPTED", "WITHDRAWN")  # who pays, will pay, or paid


@dataclass
class Node:
    account_id: str
    name: str
    column: int = 0
    row: int = 0

    @property
    def x(self) -> int:
        return MARGIN + self.column * (NODE_W + COL_GAP)

    @property
    def y(self) -> int:
        return MARGIN + self.row * (NODE_H + ROW_GAP)

    @property
    def short_name(self) -> str:
        """The name as the box fits it (the account id is drawn below it, so not repeated)."""
        name = self.name.removesuffix(f" ({self.account_id})")
        return name if len(name) <= 30 else name[:29] + "…"


@dataclass
class Edge:
    transfer: ResponsibilityTransfer
    source: Node  # paid for
    target: Node  # pays
    status_words: str
    period: str
    path: str = ""
    label_x: int = 0
    label_y: int = 0


@dataclass
class Month:
    key: str  # "2026-07"
    starts: list[ResponsibilityTransfer] = field(default_factory=list)
    ends: list[ResponsibilityTransfer] = field(default_factory=list)
    answer_by: list[tuple[datetime, Handshake]] = field(default_factory=list)


def _month(value: datetime | None) -> str:
    return value.strftime("%Y-%m") if value else ""


def _layout(nodes: dict[str, Node], edges: list[Edge]) -> tuple[int, int]:
    """Columns by the length of the chain behind each organization (an organization paid for by
    nobody on the map at the left, its payer to the right, the payer's payer further right);
    rows by name within a column. Returns the drawing's width and height."""
    paid_for: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        paid_for[edge.target.account_id].add(edge.source.account_id)

    def depth(account_id: str, seen: frozenset[str]) -> int:
        below = [s for s in paid_for.get(account_id, ()) if s not in seen]
        return 1 + max((depth(s, seen | {s}) for s in below), default=-1)

    columns: dict[int, list[Node]] = defaultdict(list)
    for node in nodes.values():
        node.column = depth(node.account_id, frozenset({node.account_id}))
        columns[node.column].append(node)
    for column in columns.values():
        for row, node in enumerate(sorted(column, key=lambda n: (n.name.lower(), n.account_id))):
            node.row = row
    for edge in edges:
        s, t = edge.source, edge.target
        x1, y1 = s.x + NODE_W, s.y + NODE_H // 2
        x2, y2 = t.x, t.y + NODE_H // 2
        if t.column > s.column:
            bend = (x2 - x1) // 2
            edge.path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
            edge.label_x, edge.label_y = (x1 + x2) // 2, (y1 + y2) // 2 - 6
        else:  # same column (a cycle or a pair seen both ways): loop out to the right
            x1, x2 = s.x + NODE_W, t.x + NODE_W
            edge.path = f"M{x1},{y1} C{x1 + 90},{y1} {x2 + 90},{y2} {x2},{y2}"
            edge.label_x, edge.label_y = x1 + 70, (y1 + y2) // 2
    width = MARGIN * 2 + (max(columns, default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP + 100
    height = MARGIN * 2 + max((len(c) for c in columns.values()), default=1) * (NODE_H + ROW_GAP)
    return width, height


@login_required
@require_GET
def billing_map(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    connections = visible_connections(user)
    ids = [c.pk for c in connections]
    transfers = list(
        ResponsibilityTransfer.objects.filter(connection_id__in=ids)
        .select_related("connection")
        .order_by("transfer_id", "-changed_at", "pk")
    )
    # One edge per AWS transfer, whichever side(s) the portal holds.
    unique: dict[str, ResponsibilityTransfer] = {}
    for transfer in transfers:
        unique.setdefault(transfer.transfer_id, transfer)
    shown = [t for t in unique.values() if t.status in SHOWN_STATUSES and t.source_account_id and t.target_account_id]
    accounts = {a for t in shown for a in (t.source_account_id, t.target_account_id)}
    names = party_names(connections, accounts)
    nodes = {a: Node(a, names.get(a, a)) for a in sorted(accounts)}
    # Every organization the user's connections manage is on the map, paying or not.
    for c in connections:
        account_id = c.management_account_id or c.account_id
        if account_id and account_id not in nodes:
            nodes[account_id] = Node(account_id, c.name)
    edges = [
        Edge(
            transfer=t,
            source=nodes[t.source_account_id],
            target=nodes[t.target_account_id],
            status_words=labels.plain(t.status, "transfer"),
            period=f"from {_month(t.start_at) or '?'}" + (f" to {_month(t.end_at)}" if t.end_at else ""),
        )
        for t in sorted(shown, key=lambda t: (t.start_at is None, t.start_at, t.transfer_id))
    ]
    width, height = _layout(nodes, edges)

    months: dict[str, Month] = {}

    def month(key: str) -> Month:
        return months.setdefault(key, Month(key))

    for t in unique.values():
        if t.status in SHOWN_STATUSES and t.start_at:
            month(_month(t.start_at)).starts.append(t)
        if t.status in SHOWN_STATUSES and t.end_at:
            month(_month(t.end_at)).ends.append(t)
    invitations = Handshake.objects.filter(
        connection_id__in=ids, action="TRANSFER_RESPONSIBILITY", state__in=("OPEN", "REQUESTED")
    ).select_related("connection")
    seen: set[str] = set()
    for handshake in invitations.order_by("handshake_id", "pk"):
        deadline = deadline_of(handshake)
        if deadline is None or handshake.handshake_id in seen:
            continue
        seen.add(handshake.handshake_id)
        handshake.urgency = urgency(deadline)  # type: ignore[attr-defined]
        month(_month(deadline)).answer_by.append((deadline, handshake))
    for m in months.values():
        m.answer_by.sort(key=lambda pair: pair[0])
    return render(
        request,
        "orgportal/billing_map.html",
        {
            "nodes": list(nodes.values()),
            "edges": edges,
            "width": width,
            "height": height,
            "node_w": NODE_W,
            "node_h": NODE_H,
            "months": [months[k] for k in sorted(months)],
            "freshness": Freshness(connections),
            "urgency_rule": RULE,
        },
    )
