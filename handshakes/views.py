"""Handshake pages: the list (every action type and state; filters, search, sort, keyset pages)
and the detail (parties, the nested resources tree, the linked transfer, history).

Thin views: parse, fetch through the "for this user" helpers (another user's connection or
handshake is a 404), call a selector, render the page — or, for htmx, only the `#rows` partial.
Read-only: pages never call AWS. The flow is the pages room's own (`orgportal.pages.list_page`,
`detail_page`); this room says what it shows.
"""

from __future__ import annotations

from orgportal.pages import detail_page, list_page, own_row

from .action_views import available_actions
from .selectors import HANDSHAKES, get_handshake_for_user
from .selectors import handshake_detail as related

handshake_list = list_page(HANDSHAKES, "handshake", "handshakes/list.html", own_row(available_actions))
handshake_detail = detail_page(get_handshake_for_user, related, "handshake", "handshakes/detail.html")
