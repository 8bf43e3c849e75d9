"""Template context every page needs: the connections this user may see, for the nav."""

from __future__ import annotations

from django.http import HttpRequest

from .roles import connections_for


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_connections": connections_for(user)}
