"""Template context every page needs: the connections this user may see, for the nav."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest

from .models import Grant, Role
from .roles import connections_for, held_roles


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def held() -> frozenset[str]:
        """Every role the user holds on some connection (one query, and only if the nav asks)."""
        if user.is_superuser:
            return frozenset(Role.values)
        return held_roles(Grant.objects.filter(user_id=user.pk).values_list("role", flat=True).distinct())

    # Callables: the template calls them only where the nav needs them.
    return {
        "nav_connections": connections_for(user),
        "nav_is_auditor": lambda: Role.AUDITOR in held(),
        "nav_is_admin": lambda: Role.ADMIN in held(),
    }
