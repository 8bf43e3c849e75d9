"""The pagination room: opaque NextTokens over the state's sorted indexes.

A token carries the operation, the index it pages and the last position key served, signed so a
token made up or carried to another list is rejected as AWS does (INVALID_NEXT_TOKEN). A page is
a bisect into a sorted list, so its cost does not depend on how long the list is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from orgsim.errors import invalid_input
from orgsim.registry import Call

_KEY = b"orgsim-next-token"
DEFAULT_PAGE = 20  # the API's maximum, and what AWS answers when MaxResults is absent


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(_KEY, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + raw).decode()


def decode(token: str, operation: str, index: str) -> dict[str, Any]:
    try:
        blob = base64.urlsafe_b64decode(token.encode())
        mac, raw = blob[:12], blob[12:]
        if not hmac.compare_digest(mac, hmac.new(_KEY, raw, hashlib.sha256).digest()[:12]):
            raise ValueError("bad signature")
        payload = json.loads(raw)
        if payload["o"] != operation or payload["i"] != index:
            raise ValueError("token of another list")
        return dict(payload)
    except Exception:
        raise invalid_input("INVALID_NEXT_TOKEN", "The specified NextToken is not valid.") from None


def page(
    call: Call, index: str, resolve: Callable[[Any], Any | None], *, limit: int | None = None
) -> tuple[list[Any], str | None]:
    """One page of `index` for this call: resolved items and the NextToken (None on the last page).

    `resolve` turns a position key into the item to return, or None to skip it (a filter that
    cannot be an index of its own).
    """
    size = limit or call.params.get("MaxResults") or DEFAULT_PAGE
    after = None
    empty_served = False
    token = call.params.get("NextToken")
    if token:
        payload = decode(token, call.operation, index)
        after, empty_served = payload.get("a"), bool(payload.get("e"))
    if call.empty_page and not empty_served:
        # An empty page that still carries a NextToken, as AWS may send; the token remembers it
        # was served so a caller that keeps following tokens always gets to the data.
        return [], encode({"o": call.operation, "i": index, "a": after, "e": 1})
    keys, last = call.state.index.page(index, after, size)
    items = [item for item in (resolve(key) for key in keys) if item is not None]
    next_token = encode({"o": call.operation, "i": index, "a": last}) if last is not None else None
    return items, next_token


def page_list(call: Call, list_id: str, items: list[Any]) -> tuple[list[Any], str | None]:
    """One page of a short list held in memory (tags, validation errors...), by position.

    For lists bounded by a small quota, where an index of their own would cost more than a slice.
    """
    size = call.params.get("MaxResults") or DEFAULT_PAGE
    start = 0
    if call.params.get("NextToken"):
        start = int(decode(call.params["NextToken"], call.operation, list_id)["a"])
    more = start + size < len(items)
    token = encode({"o": call.operation, "i": list_id, "a": start + size}) if more else None
    return items[start : start + size], token


def with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        body["NextToken"] = token
    return body
