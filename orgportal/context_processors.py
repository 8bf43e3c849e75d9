"""Template context every page needs: the connections this user may see, for the nav."""

from __future__ import annotations

from django.http import HttpRequest

from .models import Role
from .roles import connections_for


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it only where the nav needs it (one query, not on every render).
    return {
        "nav_connections": connections_for(user),
        "nav_is_auditor": lambda: connections_for(user, Role.AUDITOR).exists(),
        "nav_is_admin": lambda: connections_for(user, Role.ADMIN).exists(),
    }
