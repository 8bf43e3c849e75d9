"""Template tags that let the inbox include the policy area's partial without knowing its data."""

from __future__ import annotations

from typing import Any

from django import template

from policies.selectors import inbox_invalid_policies

register = template.Library()


@register.simple_tag
def invalid_effective_policies_for(user: Any) -> list[Any]:
    """The invalid effective policies `user` may see (one query), for the inbox."""
    return inbox_invalid_policies(user)
