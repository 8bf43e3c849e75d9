"""Who may do what: roles per connection, and the one helper that fetches a connection for a user.

Every view reaches a connection (and through it, every cached AWS object) via these functions,
so no view can forget authorization. A connection the user holds no grant on is a 404, never a
403: the portal does not confirm that it exists. A granted connection without the needed role is
a 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Account
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

# Whoever a request is from: a signed-in account (the user model) or the anonymous user.
User = Account | AnonymousUser


def request_user(request: HttpRequest) -> Account:
    """The signed-in account of a request (views behind `login_required`), typed as the user model."""
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


def roles_on(user: User, connection: AwsConnection) -> frozenset[str]:
    """Every role (implied ones included) that `user` holds on `connection`."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return frozenset(Role.values)
    granted: Iterable[str] = Grant.objects.filter(user=user, connection=connection).values_list("role", flat=True)
    held: set[str] = set()
    for role in granted:
        held |= IMPLIES[role]
    return frozenset(held)


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


def require_role(user: User, connection: AwsConnection, role: str) -> None:
    """Raise PermissionDenied unless `user` holds `role` on `connection`."""
    if not has_role(user, connection, role):
        raise PermissionDenied(f"This needs the {Role(role).label} role on {connection.name}.")
