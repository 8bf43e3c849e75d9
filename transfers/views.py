"""Billing transfer pages: the list (filters, search, sort, keyset pages; one row per AWS transfer
however many sides of it the user's connections hold) and the detail.

Thin views: parse the query string, fetch through the "for this user" helpers (another user's
connection or transfer is a 404), call a selector, render the page — or, for htmx, only the
list's `#rows` partial. Read-only: pages never call AWS. The flow is the pages room's own
(`orgportal.pages.list_page`, `detail_page`); this room says what it shows.
"""

from __future__ import annotations

from orgportal.pages import detail_page, list_page

from .action_views import side_actions
from .selectors import TRANSFERS, get_transfer_for_user
from .selectors import transfer_detail as related

transfer_list = list_page(TRANSFERS, "transfer", "transfers/list.html", side_actions)
transfer_detail = detail_page(get_transfer_for_user, related, "transfer", "transfers/detail.html")
