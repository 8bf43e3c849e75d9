"""Template tags of the transfer partials: which actions this user may take on a transfer now, with
the user's roles looked up once per connection per request (a list page stays at a fixed number of
queries however many rows it shows)."""

from __future__ import annotations

from django import template

from orgportal.action_views import SideActions
from orgportal.roles import request_roles_on

from ..action_views import own_actions
from ..models import ResponsibilityTransfer

register = template.Library()


@register.simple_tag(takes_context=True)
def transfer_actions(context: template.Context, transfer: ResponsibilityTransfer) -> SideActions:
    """(url name, label, pk) of what the user may do on `transfer` now."""
    return own_actions(transfer, request_roles_on(context["request"], transfer.connection))
