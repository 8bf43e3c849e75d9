"""Pages of two-person approval: the list of requests a user may see, and one request (what, on
which resource, exactly what will be sent, by whom, until when, and what became of it). Read-only,
except that opening a pending request whose answer-by moment passed marks it lapsed (from the
cache: pages never call AWS)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgportal.action_views import describe_call
from orgportal.pages import HtmxHttpRequest
from orgportal.roles import request_roles_on

from . import services
from .covered import covered
from .models import State
from .selectors import get_request_for_user, requests_for

LIST_SHOWN = 200


@login_required
@require_GET
def approval_list(request: HtmxHttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    requests = requests_for(request.user)
    if state in State.values:
        requests = requests.filter(state=state)
    return render(
        request,
        "approvals/list.html",
        {"approvals": list(requests[:LIST_SHOWN]), "states": State.choices, "state": state},
    )


@login_required
@require_GET
def approval_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    approval = get_request_for_user(request.user, pk)
    if approval.is_pending and approval.is_due():
        services.lapse_if_moot(approval, actor=request.user, request=request)
    roles = request_roles_on(request, approval.connection)
    return render(
        request,
        "approvals/detail.html",
        {
            "approval": approval,
            "label": covered(approval.action).label,
            "call": describe_call(approval.operation, approval.params) if approval.operation else "",
            "may_decide": approval.is_pending and services.may_decide(approval, request.user, roles),
            "may_withdraw": approval.is_pending and approval.requester_id == request.user.pk,
            "is_requester": approval.requester_id == request.user.pk,
        },
    )
