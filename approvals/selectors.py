"""Reads of two-person approval: the one "for this user" lookup of a request, the requests a user
may see, and the pending ones waiting for the user's decision (the inbox)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet
from django.http import Http404

from orgportal.roles import User, connections_for, roles_by_connection

from .models import ApprovalRequest, State
from .services import may_decide

INBOX_SHOWN = 20


def requests_for(user: User) -> QuerySet[ApprovalRequest]:
    """Every request on a connection `user` may read, newest first."""
    return ApprovalRequest.objects.filter(connection__in=connections_for(user)).select_related("connection")


def get_request_for_user(user: User, pk: int) -> ApprovalRequest:
    """The request `pk` if it is on a connection `user` may read (404 otherwise: the portal does
    not confirm another connection's requests exist). Deciding checks roles on top."""
    try:
        return (
            requests_for(user)
            .select_related("connection__read_credentials", "connection__action_credentials", "requester")
            .get(pk=pk)
        )
    except (ApprovalRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No such approval request") from None


def _held(roles: Mapping[int, frozenset[str]], connection_id: int) -> frozenset[str]:
    try:
        return roles[connection_id]  # a defaultdict (a superuser's) answers every connection
    except KeyError:
        return frozenset()


def waiting_for(
    user: User, roles: Mapping[int, frozenset[str]] | None = None
) -> tuple[list[ApprovalRequest], list[ApprovalRequest]]:
    """(pending requests `user` may approve, pending requests `user` asked for): one query however
    many connections, plus one for the roles unless the page read them already (`roles`)."""
    if not user.is_authenticated:
        return [], []
    pending = list(requests_for(user).filter(state=State.PENDING).order_by("answer_by", "id")[: INBOX_SHOWN * 5])
    if roles is None:
        roles = roles_by_connection(user)
    theirs = [a for a in pending if may_decide(a, user, _held(roles, a.connection_id)) and not a.is_due()]
    mine = [a for a in pending if a.requester_id == user.pk]
    return theirs[:INBOX_SHOWN], mine[:INBOX_SHOWN]
