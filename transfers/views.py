"""Billing transfer pages: the list (filters, search, sort, keyset pages; one row per AWS transfer
however many sides of it the user's connections hold) and the detail.

Thin views: parse the query string, fetch through the "for this user" helpers (another user's
connection or transfer is a 404), call a selector, render the page — or, for htmx, only the
list's `#rows` partial. Read-only: pages never call AWS.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from orgportal.pages import detail_page, list_page

from . import selectors
from .action_views import side_actions

transfer_list = list_page(
    selectors.TRANSFERS,
    template="transfers/list.html",
    actions=side_actions,
    url_name="transfer_list",
    export_url_name="transfer_export",
)


@login_required
@require_GET
def transfer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = selectors.get_transfer_for_user(request.user, pk)
    detail = selectors.transfer_detail(user=request.user, transfer=transfer)
    return detail_page(request, "transfers/detail.html", "transfer", transfer, detail)
