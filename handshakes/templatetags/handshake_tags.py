"""Template tags of the handshake partials: which actions this user may take on a handshake or on
the organization now (roles looked up once per connection per request, so a list page stays at a
fixed number of queries), and the handshakes that carry a billing transfer, for its detail page."""

from __future__ import annotations

from django import template

from orgportal.action_views import Actions
from orgportal.models import AwsConnection
from orgportal.roles import request_roles_on
from transfers.models import ResponsibilityTransfer

from ..action_views import available_actions, organization_actions
from ..models import Handshake
from ..selectors import handshakes_of_transfer

register = template.Library()


@register.simple_tag(takes_context=True)
def handshake_actions(context: template.Context, handshake: Handshake) -> Actions:
    """(url name, label) of what the user may do on `handshake` now."""
    return available_actions(handshake, request_roles_on(context["request"], handshake.connection))


@register.simple_tag(takes_context=True)
def org_actions(context: template.Context, connection: AwsConnection) -> Actions:
    """(url name, label) of the organization-level actions (invitations, enable all features...)."""
    return organization_actions(connection, request_roles_on(context["request"], connection))


@register.simple_tag(takes_context=True)
def transfer_handshakes(context: template.Context, transfer: ResponsibilityTransfer) -> list[Handshake]:
    """The handshakes that carry `transfer` as the user's connections cached them, the active one
    (and this connection's) first."""
    return handshakes_of_transfer(user=context["request"].user, transfer=transfer)
