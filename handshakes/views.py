"""Handshake pages: the list (every action type and state; filters, search, sort, keyset pages)
and the detail (parties, the nested resources tree, the linked transfer, history).

Thin views: parse, fetch through the "for this user" helpers (another user's connection or
handshake is a 404), call a selector, render the page — or, for htmx, only the `#rows` partial.
Read-only: pages never call AWS.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgportal.listing import sort_links
from orgportal.models import Role
from orgportal.pages import Freshness, roles_by_connection, visible_connections

from . import selectors
from .actions import available_actions


@login_required
@require_GET
def handshake_list(request: HttpRequest) -> HttpResponse:
    connections = visible_connections(request.user)
    result = selectors.handshake_list(connections=connections, params=request.GET)
    roles = roles_by_connection(request.user)
    for row in result.page.rows:
        # What the user may do on each row, from the actions room's own rule (no query per row).
        row.actions = available_actions(row, roles[row.connection_id])  # type: ignore[attr-defined]
    context = {
        "result": result,
        "page": result.page,
        "notices": result.notices,
        "freshness": Freshness(result.connections),
        "links": sort_links(selectors.SORTS, result.page.ordering),
        "ordering": result.page.ordering,
        "has_connections": bool(connections),
        # The CSV export (handshakes/exports.py) takes the same query string; it needs the Auditor role.
        "can_export": getattr(request.user, "is_superuser", False)
        or any(Role.AUDITOR in held for held in roles.values()),
    }
    template = "handshakes/list.html"
    if getattr(request, "htmx", False):
        template += "#rows"
    return render(request, template, context)


@login_required
@require_GET
def handshake_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handshake = selectors.get_handshake_for_user(request.user, pk)
    detail = selectors.handshake_detail(user=request.user, handshake=handshake)
    return render(
        request,
        "handshakes/detail.html",
        {"handshake": handshake, "detail": detail, "freshness": Freshness([handshake.connection])},
    )
