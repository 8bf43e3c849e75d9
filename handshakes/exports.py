"""CSV export of handshakes: the rows of the list the user is looking at (the same filters in the
query string), streamed through the one writer (`audit.csv.stream_csv`), audited
(`orgportal.pages.list_export`), in the list's order. Every role that sees the list may export
it; another connection is a 404 if named."""

from __future__ import annotations

from orgportal.pages import export_view

from .selectors import HANDSHAKES

HEADER = (
    "connection",
    "handshake_id",
    "action",
    "state",
    "direction",
    "counterparty",
    "transfer_id",
    "transfer_start_at",
    "requested_at",
    "expires_at",
    "first_seen_at",
    "changed_at",
    "vanished_at",
)

export = export_view(HANDSHAKES, header=HEADER, filename="handshakes.csv", what="handshakes")
