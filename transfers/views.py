"""Billing transfer pages: the list (filters, search, sort, keyset pages) and the detail.

Thin views: parse the query string, fetch through the "for this user" helpers (another user's
connection or transfer is a 404), call a selector, render the page — or, for htmx, only the
list's `#rows` partial. Read-only: pages never call AWS.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgportal.pages import Freshness, HtmxHttpRequest, list_view

from . import selectors
from .action_views import available_actions


@login_required
@require_GET
def transfer_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_view(
        request,
        selectors.TRANSFERS,
        template="transfers/list.html",
        actions=available_actions,
        url_name="transfer_list",
        export_url_name="transfer_export",
    )


@login_required
@require_GET
def transfer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = selectors.get_transfer_for_user(request.user, pk)
    detail = selectors.transfer_detail(user=request.user, transfer=transfer)
    return render(
        request,
        "transfers/detail.html",
        {"transfer": transfer, "detail": detail, "freshness": Freshness([transfer.connection])},
    )
