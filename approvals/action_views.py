"""State-changing views of two-person approval: approve (which runs the held action), reject,
withdraw, and a connection's rule. Each runs the one action-view flow (review, then confirm) and
calls one service in `approvals.services` / `approvals.rules`. Another connection's request is a
404; deciding without the checker's roles a 403; the requester deciding their own request is
refused (403, audited); only the requester may withdraw (403 for everyone else)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import reverse

from handshakes.action_views import BILLING_TRANSFER_CONSEQUENCES
from orgportal.action_views import run_action, safe_next
from orgportal.models import Role
from orgportal.pages import HtmxHttpRequest
from orgportal.roles import get_connection_for_user
from orgportal.writepath import action_view

from . import services
from .covered import covered
from .forms import DecisionForm, RuleForm
from .models import ApprovalRequest
from .rules import rule_for, rule_update
from .selectors import get_request_for_user

SUMMARY = "approvals/_summary.html"


def _decision(
    request: HtmxHttpRequest,
    approval: ApprovalRequest,
    form: DecisionForm,
    decide: Callable[..., ApprovalRequest],
    title: str,
    verb: str,
    done: str,
    **page: Any,
) -> HttpResponse:
    """One decision on `approval` through the action-view flow: its page (`title`, the button's
    `verb`, anything more in `page`), then `decide` (a service taking the approval, actor, reason
    and request) once confirmed, `done` for the user, and back to the request's page."""
    return run_action(
        request,
        form=form,
        context={
            "title": f"{title} request #{approval.pk}: {covered(approval.action).label}",
            "verb": verb,
            "approval": approval,
            "summary": SUMMARY,
            "connection": approval.connection,
            "confirm_only": True,
            **page,
        },
        operation=approval.operation or "(a portal setting: nothing is sent to AWS)",
        params=lambda f: approval.params,
        perform=lambda f: decide(
            approval=approval, actor=request.user, reason=f.cleaned_data.get("reason") or "", request=request
        ),
        success=lambda decided: done,
        next_url=safe_next(request, reverse("approval_detail", args=[approval.pk])),
    )


@action_view(role=Role.APPROVER, target="approval_request")
def approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    approval = get_request_for_user(request.user, pk)
    services.require_checker(approval, request.user)
    page = {
        "intro": f"Approving sends exactly what {approval.requester_label} asked for, as you, on their behalf.",
        # The checker reads what the requester read before asking.
        "consequences": BILLING_TRANSFER_CONSEQUENCES if approval.action == "handshake.accept" else (),
    }
    done = f"Request #{approval.pk} approved: {covered(approval.action).label.lower()} was done."
    form = DecisionForm(request.POST or None)
    return _decision(request, approval, form, services.request_approve, "Approve", "approve and send", done, **page)


@action_view(role=Role.APPROVER, target="approval_request")
def reject(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    approval = get_request_for_user(request.user, pk)
    services.require_checker(approval, request.user)
    form = DecisionForm(request.POST or None, reason_required=True)
    done = f"Request #{approval.pk} rejected; nothing was sent."
    return _decision(request, approval, form, services.request_reject, "Reject", "reject", done, danger=True)


@action_view(role=Role.VIEWER, target="own_approval_request")
def withdraw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    approval = get_request_for_user(request.user, pk)
    if approval.requester_id != request.user.pk:
        raise PermissionDenied("Only the person who asked for it can withdraw this request.")
    form, done = DecisionForm(request.POST or None), f"Request #{approval.pk} withdrawn; nothing was sent."
    return _decision(request, approval, form, services.request_withdraw, "Withdraw", "withdraw", done, danger=True)


@action_view(role=Role.ADMIN, target="connection")
def rule(request: HtmxHttpRequest, connection_pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, connection_pk, Role.ADMIN)
    current = rule_for(connection)
    form = RuleForm(request.POST or None, initial={"actions": current.actions, "checker_role": current.checker_role})
    return run_action(
        request,
        form=form,
        context={
            "title": f"Two-person approval on {connection.name}",
            "verb": "save the rule",
            "connection": connection,
            "intro": "A covered action, once confirmed, becomes a request that a different person with the chosen "
            "role (and the role the action itself needs) approves before anything is sent to AWS. Adding actions "
            "applies at once; while the rule is on, taking any off or changing the role needs a second admin.",
        },
        operation=f"Two-person rule of {connection.name} (a portal setting: nothing is sent to AWS)",
        params=lambda f: {"actions": sorted(f.cleaned_data["actions"]), "checker_role": f.cleaned_data["checker_role"]},
        perform=lambda f: rule_update(
            connection=connection,
            actor=request.user,
            actions=list(f.cleaned_data["actions"]),
            checker_role=f.cleaned_data["checker_role"],
            request=request,
            submission=f.submission_token,
        ),
        success=lambda r: "The two-person rule is saved." if r.is_on else "The two-person rule is off.",
        next_url=safe_next(request, reverse("approval_list")),
    )
