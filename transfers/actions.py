"""Action views of billing transfers: invite an organization, cancel the invitation, rename,
terminate. Each one runs the shared edit → review → confirm flow (`handshakes.actions.run_action`;
the invitation through `run_invitation`, as the account invitation does) and calls one service in
`transfers.services`. Another connection's transfer is a 404, a missing role a 403, on GET as
well as POST.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from handshakes.actions import run_action, run_invitation, safe_next, url_or
from handshakes.forms import CancelForm
from orgportal.actions import action_view
from orgportal.models import AwsConnection, Role
from orgportal.roles import connections_for, get_connection_for_user, require_role, roles_on

from . import services
from .forms import InviteOrganizationForm, RenameTransferForm, TerminateTransferForm
from .models import Direction, ResponsibilityTransfer

TERMINATE_WARNING = (
    "Ending a billing transfer cannot be undone. The paying organization stops paying at the end date; "
    "after it, the other organization pays its own bills again. A new invitation is needed to resume."
)


def transfer_for_user(request: HttpRequest, pk: int, role: str) -> ResponsibilityTransfer:
    """The transfer `pk` on a connection the user may see (404 otherwise) with `role` (403)."""
    transfer = get_object_or_404(
        ResponsibilityTransfer.objects.select_related("connection"), pk=pk, connection__in=connections_for(request.user)
    )
    require_role(request.user, transfer.connection, role)
    return transfer


def available_actions(transfer: ResponsibilityTransfer, roles: frozenset[str]) -> list[tuple[str, str]]:
    """(url name, label) of what a holder of `roles` may do on `transfer` now: the UI hides the rest."""
    actions: list[tuple[str, str]] = []
    if transfer.vanished_at is not None:
        return actions
    if Role.OPERATOR in roles:
        if transfer.status == "REQUESTED" and transfer.direction == Direction.INBOUND and transfer.active_handshake_id:
            actions.append(("transfer_cancel", "Cancel invitation…"))
        if transfer.status in ("REQUESTED", "ACCEPTED"):
            actions.append(("transfer_rename", "Rename…"))
    if Role.ADMIN in roles and transfer.status == "ACCEPTED":
        actions.append(("transfer_terminate", "End transfer…"))
    return actions


def organization_actions(connection: AwsConnection, roles: frozenset[str]) -> list[tuple[str, str]]:
    if Role.OPERATOR in roles:
        return [("transfer_invite", "Invite an organization to transfer billing")]
    return []


def render_actions(request: HttpRequest, transfer: ResponsibilityTransfer, extra: dict[str, Any]) -> HttpResponse:
    extra = dict(extra)
    status = extra.pop("status", 200)
    actions = available_actions(transfer, roles_on(request.user, transfer.connection))
    return render(
        request, "transfers/_actions.html", {"transfer": transfer, "actions": actions, **extra}, status=status
    )


def _detail(transfer: ResponsibilityTransfer) -> str:
    return url_or("transfer_detail", transfer.pk)


@action_view(role=Role.OPERATOR, target="connection")
def invite(request: HttpRequest, connection_pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, connection_pk, Role.OPERATOR)
    return run_invitation(
        request,
        connection=connection,
        form=InviteOrganizationForm(request.POST or None),
        invite=services.transfer_invite,
        context={
            "title": f"Invite an organization to let {connection.name} pay its bills",
            "verb": "send invitation",
            "intro": "The invited organization's management account must accept at least 24 hours before the "
            "start. From the start date this organization receives and pays a separate invoice for it.",
        },
        operation="InviteOrganizationToTransferResponsibility",
        fields={"source_name": "source_name", "start_at": "start"},
        invitee="the organization",
        list_url_name="transfer_list",
    )


@action_view(role=Role.OPERATOR, target="requested_transfer")
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = transfer_for_user(request, pk, Role.OPERATOR)
    form = CancelForm(request.POST or None)
    return run_action(
        request,
        form=form,
        context={
            "title": f"Cancel the invitation for {transfer.name or transfer.transfer_id}",
            "verb": "cancel invitation",
            "transfer": transfer,
            "connection": transfer.connection,
            "danger": True,
            "confirm_only": True,
        },
        operation="CancelHandshake",
        params=lambda f: {"HandshakeId": transfer.active_handshake_id},
        perform=lambda f: services.transfer_cancel(transfer=transfer, actor=request.user, request=request),
        success=lambda t: f"The invitation for {t.name or t.transfer_id} was canceled.",
        next_url=safe_next(request, _detail(transfer)),
        row_partial=lambda extra: render_actions(request, transfer, extra),
    )


@action_view(role=Role.OPERATOR, target="requested_transfer")
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = transfer_for_user(request, pk, Role.OPERATOR)
    form = RenameTransferForm(request.POST or None, initial={"name": transfer.name})
    return run_action(
        request,
        form=form,
        context={
            "title": f"Rename {transfer.name or transfer.transfer_id}",
            "verb": "rename",
            "transfer": transfer,
            "connection": transfer.connection,
        },
        operation="UpdateResponsibilityTransfer",
        params=lambda f: {"Id": transfer.transfer_id, "Name": f.cleaned_data["name"]},
        perform=lambda f: services.transfer_rename(
            transfer=transfer, actor=request.user, name=f.cleaned_data["name"], request=request
        ),
        success=lambda t: f"The transfer is now named {t.name}.",
        next_url=safe_next(request, _detail(transfer)),
    )


@action_view(role=Role.ADMIN, target="accepted_transfer")
def terminate(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = transfer_for_user(request, pk, Role.ADMIN)
    form = TerminateTransferForm(request.POST or None, transfer=transfer)
    return run_action(
        request,
        form=form,
        context={
            "title": f"End the billing transfer {transfer.name or transfer.transfer_id}",
            "verb": "end transfer",
            "transfer": transfer,
            "connection": transfer.connection,
            "danger": True,
            "intro": TERMINATE_WARNING,
        },
        operation="TerminateResponsibilityTransfer",
        params=lambda f: {"Id": transfer.transfer_id, "EndTimestamp": f.cleaned_data["end"]},
        perform=lambda f: services.transfer_terminate(
            transfer=transfer, actor=request.user, end_at=f.cleaned_data["end"], request=request
        ),
        success=lambda t: (
            f"The transfer {t.name or t.transfer_id} ends {t.end_at:%Y-%m-%d %H:%M:%S} UTC."
            if t.end_at
            else "The transfer was ended."
        ),
        next_url=safe_next(request, _detail(transfer)),
    )
