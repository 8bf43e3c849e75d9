"""Template tags that let the inbox (and other pages) show two-person approval without knowing its data."""

from __future__ import annotations

from typing import Any

from django import template

from ..selectors import waiting_for

register = template.Library()


@register.simple_tag
def approvals_waiting_for(user: Any, roles: Any = None) -> dict[str, Any]:
    """{"theirs": requests `user` may approve, "mine": requests `user` asked for}, all pending.
    `roles` (connection id -> roles, as `roles_by_connection` gives) saves reading them again."""
    theirs, mine = waiting_for(user, roles or None)
    return {"theirs": theirs, "mine": mine}
