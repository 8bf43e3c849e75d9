"""Template tags of the action partials: which actions this user may take on a row, with the
user's roles looked up once per connection per request (a list page stays at a fixed number of
queries however many rows it shows)."""

from __future__ import annotations

from typing import Any

from django import template

from orgportal.models import AwsConnection
from orgportal.roles import roles_on

register = template.Library()


def _roles(context: template.Context, connection: AwsConnection) -> frozenset[str]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None:
        return frozenset()
    cache: dict[int, frozenset[str]] | None = getattr(request, "_portal_roles", None) if request is not None else None
    if cache is None:
        cache = {}
        if request is not None:
            request._portal_roles = cache  # type: ignore[attr-defined]
    if connection.pk not in cache:
        cache[connection.pk] = roles_on(user, connection)
    return cache[connection.pk]


@register.simple_tag(takes_context=True)
def handshake_actions(context: template.Context, handshake: Any) -> list[tuple[str, str]]:
    """(url name, label) of what the user may do on `handshake` now."""
    from handshakes.actions import available_actions

    return available_actions(handshake, _roles(context, handshake.connection))


@register.simple_tag(takes_context=True)
def transfer_actions(context: template.Context, transfer: Any) -> list[tuple[str, str]]:
    """(url name, label) of what the user may do on `transfer` now."""
    from transfers.actions import available_actions

    return available_actions(transfer, _roles(context, transfer.connection))


@register.simple_tag(takes_context=True)
def organization_actions(context: template.Context, connection: AwsConnection) -> list[tuple[str, str]]:
    """(url name, label) of the organization-level actions (invite, enable all features...)."""
    from handshakes.actions import organization_actions as handshake_side
    from transfers.actions import organization_actions as transfer_side

    roles = _roles(context, connection)
    return transfer_side(connection, roles) + handshake_side(connection, roles)
