"""Template filters of the audit page: an event's details as readable key/value pairs."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


def _readable(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_readable(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@register.filter
def details(params: Any) -> list[tuple[str, str]]:
    """(key, value) pairs of an event's params in key order, each value as a person reads it:
    lists joined with commas, nested objects as compact JSON, and a sync's observed changes
    (`{"changes": {field: [old, new]}}`) one field a line as "old → new"."""
    if not isinstance(params, dict):
        return [("", _readable(params))] if params else []
    pairs = []
    for key in sorted(params):
        value = params[key]
        if key == "changes" and isinstance(value, dict):
            for field in sorted(value):
                change = value[field]
                if isinstance(change, list) and len(change) == 2:
                    pairs.append((field, f"{_readable(change[0])} → {_readable(change[1])}"))
                else:
                    pairs.append((field, _readable(change)))
        else:
            pairs.append((key, _readable(value)))
    return pairs
