"""Users and grants (admins): who holds which role on the connections you administer; grant and revoke.

Each change is written to the audit trail in the same transaction as the grant itself. An admin
sees and changes grants only on connections where they hold the admin role, and sees (and may
grant to) only users who share a connection with them (superusers: all).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.events import record

from .forms import form_field
from .models import AwsConnection, Grant, Role
from .roles import SignedInUser, User, connections_for, get_connection_for_user, request_user


class GrantForm(forms.Form):
    user = forms.ModelChoiceField(queryset=SignedInUser.objects.none(), to_field_name="username")
    connection = forms.ModelChoiceField(queryset=AwsConnection.objects.none())
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, viewer: SignedInUser, connections: QuerySet[AwsConnection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "user", forms.ModelChoiceField).queryset = users_visible_to(viewer).order_by("username")
        form_field(self, "connection", forms.ModelChoiceField).queryset = connections


def users_visible_to(viewer: SignedInUser) -> QuerySet[SignedInUser]:
    """The active users who share a connection with `viewer` (superusers: every active user).

    Tenants are walls: an admin of one connection neither sees nor can pick a user who only
    holds grants elsewhere. A user's first grant therefore comes from a superuser.
    """
    active = SignedInUser.objects.filter(is_active=True)
    if viewer.is_superuser:
        return active
    shared = Grant.objects.filter(connection__in=connections_for(viewer)).values("user_id")
    return active.filter(id__in=shared)


def _administered(user: User) -> QuerySet[AwsConnection]:
    connections = connections_for(user, Role.ADMIN)
    if not connections.exists():
        raise PermissionDenied("Users and grants are managed by admins.")
    return connections


# --- services --------------------------------------------------------------------------------


def grant_add(*, request: HttpRequest, user: SignedInUser, connection: AwsConnection, role: str) -> tuple[Grant, bool]:
    with transaction.atomic():
        grant, created = Grant.objects.get_or_create(user=user, connection=connection, role=role)
        if created:
            record(
                action="grant_add",
                request=request,
                connection=connection,
                resource=f"user:{grant.user.get_username()}",
                params={"user": grant.user.get_username(), "user_id": grant.user.pk, "role": role},
            )
    return grant, created


def grant_remove(*, request: HttpRequest, grant: Grant) -> None:
    with transaction.atomic():
        username = grant.user.get_username()
        record(
            action="grant_remove",
            request=request,
            connection=grant.connection,
            resource=f"user:{username}",
            params={"user": username, "user_id": grant.user.pk, "role": grant.role},
        )
        grant.delete()


# --- views -----------------------------------------------------------------------------------


@login_required
def users(request: HttpRequest) -> HttpResponse:
    connections = _administered(request_user(request))
    grants = (
        Grant.objects.filter(connection__in=connections)
        .select_related("user", "connection")
        .order_by("user__username", "connection__name", "role")
    )
    return render(
        request,
        "orgportal/users.html",
        {"grants": grants, "form": GrantForm(viewer=request_user(request), connections=connections)},
    )


@require_POST
@login_required
def grant_create(request: HttpRequest) -> HttpResponse:
    connections = _administered(request_user(request))
    # Fetched through roles first: another connection is a 404, one without admin a 403.
    get_connection_for_user(request_user(request), request.POST.get("connection", ""), Role.ADMIN)
    form = GrantForm(request.POST, viewer=request_user(request), connections=connections)
    if not form.is_valid():
        grants = Grant.objects.filter(connection__in=connections).select_related("user", "connection")
        return render(request, "orgportal/users.html", {"grants": grants, "form": form}, status=400)
    _grant, created = grant_add(
        request=request,
        user=form.cleaned_data["user"],
        connection=form.cleaned_data["connection"],
        role=form.cleaned_data["role"],
    )
    user, connection = form.cleaned_data["user"], form.cleaned_data["connection"]
    role = Role(form.cleaned_data["role"]).label
    if created:
        messages.success(request, f"{user.get_username()} is now {role} on {connection.name}.")
    else:
        messages.info(request, f"{user.get_username()} already was {role} on {connection.name}.")
    return redirect("users")


@require_POST
@login_required
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    connections = _administered(request_user(request))
    try:
        grant = Grant.objects.select_related("user", "connection").get(pk=pk, connection__in=connections)
    except Grant.DoesNotExist:
        raise Http404("No such grant") from None
    grant_remove(request=request, grant=grant)
    messages.success(
        request,
        f"{grant.user.get_username()} is no longer {Role(grant.role).label} on {grant.connection.name}.",
    )
    return redirect("users")
