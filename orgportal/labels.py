"""The words a finance person reads next to the API's values: the AWS console's labels for
handshake states, billing transfer statuses and handshake action types. One mapping, used by the
`plain` filter and the `status_badge` tag (orgportal/templatetags/portal_pages.py) and by the
handshake model's `action_label`.

A value AWS adds later reads as its own name, humanized, until it is named here.
"""

from __future__ import annotations

HANDSHAKE_STATES = {
    "REQUESTED": "Awaiting response",
    "OPEN": "Awaiting response",
    "ACCEPTED": "Accepted",
    "DECLINED": "Declined",
    "CANCELED": "Canceled",
    "EXPIRED": "Expired",
}

TRANSFER_STATUSES = {
    "REQUESTED": "Awaiting response",
    "ACCEPTED": "Transfer accepted",
    "DECLINED": "Transfer declined",
    "CANCELED": "Invitation canceled",
    "EXPIRED": "Invitation expired",
    "WITHDRAWN": "Transfer withdrawn",
}

ACTION_TYPES = {
    "TRANSFER_RESPONSIBILITY": "Billing transfer",
    "INVITE": "Join the organization",
    "ENABLE_ALL_FEATURES": "Enable all features",
    "APPROVE_ALL_FEATURES": "Approve all features",
    "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE": "Add the Organizations service-linked role",
}

TRANSFER_TYPES = {"BILLING": "Billing"}

KINDS = {
    "handshake": HANDSHAKE_STATES,
    "state": HANDSHAKE_STATES,
    "transfer": TRANSFER_STATUSES,
    "status": TRANSFER_STATUSES,
    "action": ACTION_TYPES,
    "type": TRANSFER_TYPES,
}


def plain(value: str, kind: str) -> str:
    """The console's words for `value` of `kind` ("handshake", "transfer", "action", "type")."""
    if not value:
        return ""
    known = KINDS[kind].get(value)
    return known if known is not None else value.replace("_", " ").capitalize()
