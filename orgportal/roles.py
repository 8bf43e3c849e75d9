"""Who may do what: roles per connection, and the one helper that fetches a connection for a user.

The one place where roles are worked out (`held_roles`: a grant carries the roles it implies) and
required (`require_role`, for views and services alike). Every view reaches a connection (and
through it, every cached AWS object) via these functions, so no view can forget authorization. A connection the user holds no grant on is a 404, never a
403: the portal does not confirm that it exists. A granted connection without the needed role is
a 403.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as SignedInUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from .models import AwsConnection, Grant, Role

# A role also carries the roles listed here. Every grant allows reading its connection.
IMPLIES: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.APPROVER: frozenset({Role.APPROVER, Role.VIEWER}),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.VIEWER}),
    Role.ADMIN: frozenset({Role.ADMIN, Role.OPERATOR, Role.APPROVER, Role.VIEWER}),
    Role.AUDITOR: frozenset({Role.AUDITOR, Role.VIEWER}),
}

# Whoever a request is from: a signed-in user (the user model) or the anonymous user.
User = SignedInUser | AnonymousUser


def request_user(request: HttpRequest) -> SignedInUser:
    """The signed-in user of a request (views behind `login_required`), typed as the user model."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user


def _granting(role: str) -> list[str]:
    """The grants that give `role`."""
    return [granted for granted, implied in IMPLIES.items() if role in implied]


def connections_for(user: User, role: str = Role.VIEWER) -> QuerySet[AwsConnection]:
    """The connections on which `user` holds `role` (superusers hold every role everywhere)."""
    if not user.is_authenticated:
        return AwsConnection.objects.none()
    if user.is_superuser:
        return AwsConnection.objects.all()
    ids = Grant.objects.filter(user=user, role__in=_granting(role)).values("connection_id")
    return AwsConnection.objects.filter(id__in=ids)


def held_roles(granted: Iterable[str]) -> frozenset[str]:
    """Every role the grants `granted` give, implied ones included."""
    return frozenset(implied for role in granted for implied in IMPLIES[role])


def roles_on(user: User, connection: AwsConnection) -> frozenset[str]:
    """Every role (implied ones included) that `user` holds on `connection`."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return frozenset(Role.values)
    return held_roles(Grant.objects.filter(user=user, connection=connection).values_list("role", flat=True))


def roles_by_connection(user: User) -> dict[int, frozenset[str]]:
    """connection id -> every role `user` holds there, in one query, so a list can ask what each
    row allows without a query per connection."""
    if user.is_superuser:
        return defaultdict(lambda: frozenset(Role.values))
    granted: dict[int, list[str]] = defaultdict(list)
    grants = Grant.objects.filter(user_id=user.pk)  # type: ignore[misc]  # an authenticated user has a pk
    for connection_id, role in grants.values_list("connection_id", "role"):
        granted[connection_id].append(role)
    return defaultdict(frozenset, {pk: held_roles(roles) for pk, roles in granted.items()})


def request_roles_on(request: HttpRequest, connection: AwsConnection) -> frozenset[str]:
    """`roles_on` for the request's user, looked up once per connection per request (a page
    showing many rows of one connection asks once)."""
    cache: dict[int, frozenset[str]] = request.__dict__.setdefault("_portal_roles", {})
    if connection.pk not in cache:
        cache[connection.pk] = roles_on(request.user, connection)
    return cache[connection.pk]


def has_role(user: User, connection: AwsConnection, role: str) -> bool:
    return role in roles_on(user, connection)


def get_connection_for_user(user: User, pk: int | str, role: str = Role.VIEWER) -> AwsConnection:
    """The connection `pk` if `user` may see it (404 otherwise) and holds `role` (403 otherwise)."""
    try:
        connection = connections_for(user, Role.VIEWER).get(pk=pk)
    except (AwsConnection.DoesNotExist, ValueError, TypeError):
        raise Http404("No such connection") from None
    require_role(user, connection, role)
    return connection


def holders(connection_ids: Iterable[int], role: str) -> dict[int, list[str]]:
    """connection id -> the usernames of the active users whose grant there gives `role` (one
    query): who can answer an invitation, who can grant a role. Superusers hold every role but
    are not listed: a page names the people of the connection."""
    found: dict[int, list[str]] = defaultdict(list)
    grants = (
        Grant.objects.filter(connection_id__in=list(connection_ids), role__in=_granting(role), user__is_active=True)
        .values_list("connection_id", "user__username")
        .order_by("user__username")
        .distinct()
    )
    for connection_id, username in grants:
        found[connection_id].append(username)
    return found


class RoleRequired(PermissionDenied):
    """A signed-in user reached a connection they read but lack `role` on: the 403 page
    (`orgportal.forbidden`) says which role on which connection, and who can grant it."""

    def __init__(self, connection: AwsConnection, role: str) -> None:
        self.connection = connection
        self.role = role
        super().__init__(f"This needs the {Role(role).label} role on {connection.name}.")

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label)

    def granters(self) -> list[str]:
        """The connection's admins: they grant roles on it (from the Users page)."""
        return holders([self.connection.pk], Role.ADMIN)[self.connection.pk]


def require_role(user: Any, connection: AwsConnection, role: str) -> None:
    """Raise PermissionDenied (a `RoleRequired` that names the role and the connection) unless
    `user` holds `role` on `connection`. Views and services call it alike (a service checks
    again, so a task or a shell cannot skip it); `None` is the portal acting on its own (a
    task), which needs no grant."""
    if user is None:
        return
    if not has_role(user, connection, role):
        raise RoleRequired(connection, role)
