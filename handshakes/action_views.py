"""Action views of handshakes and of the organization: accept, decline, cancel, invite an account,
enable all features, and the invitation to a billing transfer with its withdrawal (they create and
end a handshake). Each runs the one action-view flow (`orgportal.action_views.run_action`) and
calls one service in `handshakes.services`. Another connection's object is a 404, a missing role a
403 (each kind's "for this user" helper), on GET as well as POST.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from orgportal.action_forms import ConfirmForm
from orgportal.action_views import Actions, render_row_actions, run_action, run_invitation, safe_next, url_or
from orgportal.models import AwsConnection, Role
from orgportal.pages import HtmxHttpRequest
from orgportal.roles import get_connection_for_user
from orgportal.writepath import action_view
from transfers.action_views import render_transfer_actions, transfer_detail_url, transfer_page
from transfers.forms import InviteOrganizationForm
from transfers.models import accept_by
from transfers.selectors import get_transfer_for_user, known_organizations

from . import services
from .forms import AnswerForm, EnableAllFeaturesForm, InviteAccountForm
from .models import Direction, Handshake
from .selectors import get_handshake_for_user

# What accepting a billing transfer means (../shared/reference/BILLING-TRANSFER.md), shown before
# an approver may accept.
BILLING_TRANSFER_CONSEQUENCES = (
    "From the start date the paying organization receives a separate invoice for each organization it pays for.",
    "Your organization loses access to its historical data in Cost Explorer, Budgets and the Cost and Usage "
    "Report; its CUR configurations stop working, and it no longer sees its credits.",
    "Export your invoices, Cost and Usage Reports and Cost Explorer data before accepting.",
    "If your organization already pays for other organizations, those pass on to the new payer too (a chain).",
    "The invitation must be accepted at least 24 hours before the transfer starts.",
)


# --- what a user may do ------------------------------------------------------------------------


def available_actions(handshake: Handshake, roles: frozenset[str]) -> Actions:
    """(url name, label) of the actions this user may take on `handshake` now: the UI hides the rest."""
    if not handshake.is_open:
        return []
    actions: Actions = []
    if handshake.direction == Direction.RECEIVED and Role.APPROVER in roles:
        actions += [("handshake_accept", "Accept…"), ("handshake_decline", "Decline…")]
    if handshake.direction == Direction.SENT and Role.OPERATOR in roles:
        actions.append(("handshake_cancel", "Cancel…"))
    return actions


def render_actions(request: HttpRequest, handshake: Handshake, extra: dict[str, Any] | None = None) -> HttpResponse:
    """The `_actions.html` partial of one handshake (what a row's actions cell shows)."""
    return render_row_actions(
        request,
        handshake,
        template="handshakes/_actions.html",
        name="handshake",
        actions=available_actions,
        extra=extra,
    )


# --- views ------------------------------------------------------------------------------------

# The past tense of each answer (services.ANSWERS holds its AWS operation and role).
_PAST = {"accept": "accepted", "decline": "declined", "cancel": "canceled"}


def _answer(request: HtmxHttpRequest, pk: int, verb: str) -> HttpResponse:
    answer, past = services.ANSWERS[verb], _PAST[verb]
    handshake = get_handshake_for_user(request.user, pk, answer.role)
    billing = handshake.is_billing_transfer
    form_class = ConfirmForm if verb == "cancel" else AnswerForm
    kwargs: dict[str, Any] = {"needs_understanding": billing and verb == "accept"} if verb != "cancel" else {}
    form = form_class(request.POST or None, **kwargs)
    detail = url_or("handshake_detail", handshake.pk)
    return run_action(
        request,
        form=form,
        context={
            "title": f"{verb.capitalize()} invitation {handshake.handshake_id}",
            "verb": verb,
            "handshake": handshake,
            "summary": "handshakes/_action_summary.html",
            "connection": handshake.connection,
            "consequences": BILLING_TRANSFER_CONSEQUENCES if billing and verb == "accept" else (),
            "danger": verb != "accept",
            "confirm_only": True,
            "answer_by": handshake.answer_by(),
        },
        operation=answer.operation,
        params=lambda f: {"HandshakeId": handshake.handshake_id},
        perform=lambda f: services.handshake_answer(
            handshake=handshake, verb=verb, actor=request.user, request=request
        ),
        success=lambda h: f"Invitation {h.handshake_id} {past}. AWS now shows it as {h.state.lower()}.",
        next_url=safe_next(request, detail),
        row_partial=lambda extra: render_actions(request, handshake, extra),
    )


@action_view(role=Role.APPROVER, target="received_handshake")
def accept(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "accept")


@action_view(role=Role.APPROVER, target="received_handshake")
def decline(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "decline")


@action_view(role=Role.OPERATOR, target="sent_handshake")
def cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "cancel")


@action_view(role=Role.OPERATOR, target="connection")
def invite_account(request: HtmxHttpRequest, connection_pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, connection_pk, Role.OPERATOR)
    return run_invitation(
        request,
        connection=connection,
        form=InviteAccountForm(request.POST or None),
        invite=services.organization_invite_account,
        context={
            "title": f"Invite an account to {connection.name}",
            "verb": "invite",
            "intro": "The account receives an invitation to join this organization (it may belong to another "
            "organization today). It joins when its owner accepts, within 15 days.",
        },
        operation="InviteAccountToOrganization",
        invitee="the account",
        list_url_name="handshake_list",
    )


@action_view(role=Role.ADMIN, target="connection")
def enable_all_features(request: HtmxHttpRequest, connection_pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, connection_pk, Role.ADMIN)
    if not connection.is_management_account and connection.account_id:
        raise Http404("Only a management account can enable all features.")
    form = EnableAllFeaturesForm(request.POST or None)
    return run_action(
        request,
        form=form,
        context={
            "title": f"Enable all features in {connection.name}",
            "verb": "enable all features",
            "connection": connection,
            "danger": True,
            "intro": "AWS asks every member account to approve. When all have approved, the organization has all "
            "features (needed for billing transfers and policies). This cannot be undone.",
        },
        operation="EnableAllFeatures",
        params=lambda f: {},
        perform=lambda f: services.organization_enable_all_features(
            connection=connection, actor=request.user, request=request, submission=f.submission_token
        ),
        success=lambda h: f"Enabling all features started (handshake {h.handshake_id}); member accounts must approve.",
        next_url=safe_next(request, url_or("handshake_list", default="inbox")),
    )


def organization_actions(connection: AwsConnection, roles: frozenset[str]) -> Actions:
    """Organization-level actions (url name, label) a holder of `roles` may take on `connection`:
    the invitations (to transfer billing, to join) and enabling all features."""
    items: Actions = []
    if Role.OPERATOR in roles:
        items.append(("transfer_invite", "Invite an organization to transfer billing"))
        items.append(("organization_invite_account", "Invite an account"))
    if Role.ADMIN in roles and connection.feature_set != "ALL":
        items.append(("organization_enable_all_features", "Enable all features"))
    return items


# --- the invitation to a billing transfer, and its withdrawal ------------------------------------


def invitation_in_plain_words(payer: AwsConnection, known: dict[str, str], form: Any) -> list[str]:
    """The review of a billing invitation as a finance person reads it: who will pay for whom,
    from when, and what it means."""
    target = form.cleaned_data["target"]
    start = form.cleaned_data["start"]
    whom = known.get(target) or (
        f"the organization whose management account is {target}"
        if target.isdigit()
        else f"the organization whose management account's email is {target}"
    )
    return [
        f"{payer.name} will pay the AWS bills of {whom}.",
        f"From when: from {start:%B %Y} (00:00 UTC on {start:%Y-%m-%d}), if {whom} accepts by "
        f"{accept_by(start):%Y-%m-%d %H:%M} UTC (24 hours before the start).",
        f"What it means: from then on {payer.name} receives a separate invoice for {whom} each month and pays "
        f"it; {whom} loses access to its own historical cost data (Cost Explorer, Budgets, the Cost and Usage "
        "Report). It lasts until either side ends it.",
    ]


@action_view(role=Role.OPERATOR, target="connection")
def transfer_invite(request: HtmxHttpRequest, connection_pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, connection_pk, Role.OPERATOR)
    known = known_organizations(request.user, inviting=connection)
    form = InviteOrganizationForm(request.POST or None)
    form.fields["target"].widget.attrs["list"] = "known-organizations"
    return run_invitation(
        request,
        connection=connection,
        form=form,
        invite=services.transfer_invite,
        context={
            "title": f"Invite an organization to let {connection.name} pay its bills",
            "verb": "send invitation",
            "intro": "Pick an organization the portal knows, or type the management account's id or email. It "
            "must accept at least 24 hours before the start. From the start date this organization receives and "
            "pays a separate invoice for it.",
            "known_organizations": known,
        },
        operation="InviteOrganizationToTransferResponsibility",
        fields={"source_name": "source_name", "start_at": "start"},
        invitee="the organization",
        list_url_name="transfer_list",
        explain=lambda f: invitation_in_plain_words(connection, dict(known), f),
    )


@action_view(role=Role.OPERATOR, target="requested_transfer")
def transfer_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    transfer = get_transfer_for_user(request.user, pk, Role.OPERATOR)
    return run_action(
        request,
        form=ConfirmForm(request.POST or None),
        context=transfer_page(
            transfer, "Cancel the invitation for", "cancel invitation", danger=True, confirm_only=True
        ),
        operation="CancelHandshake",
        params=lambda f: {"HandshakeId": transfer.active_handshake_id},
        perform=lambda f: services.transfer_cancel(transfer=transfer, actor=request.user, request=request),
        success=lambda t: f"The invitation for {t.name or t.transfer_id} was canceled.",
        next_url=safe_next(request, transfer_detail_url(transfer)),
        row_partial=lambda extra: render_transfer_actions(request, transfer, extra),
    )
