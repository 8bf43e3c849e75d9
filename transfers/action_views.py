"""Action views of billing transfers: rename and terminate. Each runs the one action-view flow
(`orgportal.action_views.run_action`) and calls one service in `transfers.services`; another
connection's transfer is a 404, a missing role a 403, on GET as well as POST. Inviting an
organization and withdrawing the invitation create and end a handshake, so their views live with
the handshake actions (`handshakes.action_views`) under this area's URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from orgportal.action_views import Actions, SideActions, render_row_actions, run_action, safe_next, url_or
from orgportal.models import Role
from orgportal.pages import HtmxHttpRequest
from orgportal.writepath import action_view

from . import services
from .forms import RenameTransferForm, TerminateTransferForm
from .models import ResponsibilityTransfer
from .selectors import get_transfer_for_user

TERMINATE_WARNING = (
    "Ending a billing transfer cannot be undone. The paying organization stops paying at the end date; "
    "after it, the other organization pays its own bills again. A new invitation is needed to resume."
)
# The partial that shows the transfer on an action page (orgportal/action_page.html's `summary`).
TRANSFER_SUMMARY = "transfers/_action_summary.html"


def available_actions(transfer: ResponsibilityTransfer, roles: frozenset[str]) -> Actions:
    """(url name, label) of what a holder of `roles` may do on `transfer` now: the UI hides the rest."""
    actions: Actions = []
    if transfer.vanished_at is not None:
        return actions
    if Role.OPERATOR in roles:
        if transfer.can_cancel():
            actions.append(("transfer_cancel", "Cancel invitation…"))
        if transfer.can_rename():
            actions.append(("transfer_rename", "Rename…"))
    if Role.ADMIN in roles and transfer.can_terminate():
        actions.append(("transfer_terminate", "End transfer…"))
    return actions


def own_actions(transfer: ResponsibilityTransfer, roles: frozenset[str]) -> SideActions:
    """`available_actions` on this very row (the detail page, a row's cell after an action)."""
    return [(name, label, transfer.pk) for name, label in available_actions(transfer, roles)]


def side_actions(transfer: ResponsibilityTransfer, roles: Mapping[int, frozenset[str]]) -> SideActions:
    """What a list row of the transfer offers, over every side the user holds (`sides`, see
    `selectors.attach_sides`): each action once, on the first side whose connection's role and
    state allow it — a viewer of the payer who operates the source renames through the source."""
    found: dict[str, tuple[str, str, int]] = {}
    for side in getattr(transfer, "sides", [transfer]):
        for name, label, pk in own_actions(side, roles[side.connection_id]):
            found.setdefault(name, (name, label, pk))
    return list(found.values())


def render_transfer_actions(
    request: HttpRequest, transfer: ResponsibilityTransfer, extra: dict[str, Any] | None = None
) -> HttpResponse:
    """The `_actions.html` partial of one transfer (what a row's actions cell shows)."""
    return render_row_actions(
        request, transfer, template="transfers/_actions.html", name="transfer", actions=own_actions, extra=extra
    )


def transfer_detail_url(transfer: ResponsibilityTransfer) -> str:
    return url_or("transfer_detail", transfer.pk)


def transfer_page(transfer: ResponsibilityTransfer, title: str, verb: str, **more: Any) -> dict[str, Any]:
    """What every transfer action page shows: its title and button, the transfer and its connection."""
    return {
        "title": f"{title} {transfer.name or transfer.transfer_id}",
        "verb": verb,
        "transfer": transfer,
        "summary": TRANSFER_SUMMARY,
        "connection": transfer.connection,
        **more,
    }


@action_view(role=Role.OPERATOR, target="requested_transfer")
def rename(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    transfer = get_transfer_for_user(request.user, pk, Role.OPERATOR)
    return run_action(
        request,
        form=RenameTransferForm(request.POST or None, initial={"name": transfer.name}),
        context=transfer_page(transfer, "Rename", "rename"),
        operation="UpdateResponsibilityTransfer",
        params=lambda f: {"Id": transfer.transfer_id, "Name": f.cleaned_data["name"]},
        perform=lambda f: services.transfer_rename(
            transfer=transfer, actor=request.user, name=f.cleaned_data["name"], request=request
        ),
        success=lambda t: f"The transfer is now named {t.name}.",
        next_url=safe_next(request, transfer_detail_url(transfer)),
    )


@action_view(role=Role.ADMIN, target="accepted_transfer")
def terminate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    transfer = get_transfer_for_user(request.user, pk, Role.ADMIN)
    return run_action(
        request,
        form=TerminateTransferForm(request.POST or None, transfer=transfer),
        context=transfer_page(
            transfer, "End the billing transfer", "end transfer", danger=True, intro=TERMINATE_WARNING
        ),
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
        next_url=safe_next(request, transfer_detail_url(transfer)),
    )
