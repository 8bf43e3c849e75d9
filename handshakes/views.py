"""Handshake pages: the list (every action type and state; filters, search, sort, keyset pages)
and the detail (parties, the nested resources tree, the linked transfer, history).

Thin views: parse, fetch through the "for this user" helpers (another user's connection or
handshake is a 404), call a selector, render the page — or, for htmx, only the `#rows` partial.
Read-only: pages never call AWS.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from orgportal.pages import detail_page, list_page, own_row

from . import selectors
from .action_views import available_actions

handshake_list = list_page(
    selectors.HANDSHAKES,
    template="handshakes/list.html",
    actions=own_row(available_actions),
    url_name="handshake_list",
    export_url_name="handshake_export",
)


@login_required
@require_GET
def handshake_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handshake = selectors.get_handshake_for_user(request.user, pk)
    detail = selectors.handshake_detail(user=request.user, handshake=handshake)
    return detail_page(request, "handshakes/detail.html", "handshake", handshake, detail)
