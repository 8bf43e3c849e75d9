"""Action views of handshakes and of the organization: accept, decline, cancel, invite an account,
enable all features — plus `run_action`, the one flow every action view (transfers' too) uses,
and `run_invitation`, that flow for an invitation (of an account here, of an organization there).

The flow: GET shows the form (or, for answers, the confirmation); a POST without `confirmed`
validates and shows exactly what will be sent; a POST with `confirmed` calls the service. Bad
input is a 422 with the form again, nothing sent. AWS errors read in plain words with the code
and the request id beside them. After success an htmx request gets the re-rendered actions
partial (when it came from a row) or an HX-Redirect, with a client event; a plain POST gets a
redirect and a flash message. Authorization: `get_connection_for_user`-style lookups — another
connection's object is a 404, a missing role a 403 — on GET as well as POST.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from orgportal.actions import ActionFailed, ActionRefused, action_view
from orgportal.models import AwsConnection, Role
from orgportal.roles import connections_for, get_connection_for_user, require_role, roles_on

from . import services
from .forms import ActionForm, AnswerForm, CancelForm, EnableAllFeaturesForm, InviteAccountForm, InviteForm
from .models import OPEN_STATES, Direction, Handshake

ACTION_TEMPLATE = "handshakes/action_page.html"
ACCEPT_BEFORE_START = timedelta(hours=24)

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


# --- the one flow -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def describe_call(operation: str, params: dict[str, Any]) -> str:
    """The call exactly as it will be sent, readable (shown on the review page, escaped)."""
    return f"{operation}\n{json.dumps(params, indent=2, default=_json_value, ensure_ascii=False)}"


def safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, {request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def url_or(name: str, *args: Any, default: str = "inbox") -> str:
    """The pages' URL `name` when it exists (the pages room may rename), else `default`."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return reverse(default)


def run_action(
    request: HttpRequest,
    *,
    form: ActionForm,
    context: dict[str, Any],
    operation: str,
    params: Callable[[ActionForm], dict[str, Any]],
    perform: Callable[[ActionForm], Any],
    success: Callable[[Any], str],
    next_url: str,
    row_partial: Callable[[Any], HttpResponse] | None = None,
) -> HttpResponse:
    """Edit → review → confirm, for every action view (see the module docstring)."""
    page = {**context, "form": form, "next": next_url, "confirm_fields": form.confirm_fields}
    confirm_only = bool(context.get("confirm_only"))
    if request.method != "POST":
        if confirm_only:
            page["call"] = describe_call(operation, params(form))
        return render(request, ACTION_TEMPLATE, {**page, "step": "review" if confirm_only else "edit"})
    if not form.is_valid():
        # A mistake in a confirmation field (the typed name, the "I understand" box) keeps the
        # user on the review; anything else goes back to editing. Either way nothing is sent.
        only_confirm_errors = set(form.errors) <= set(form.confirm_fields)
        if (confirm_only or request.POST.get("confirmed")) and only_confirm_errors:
            page.update(step="review", call=describe_call(operation, params(form)))
        else:
            page["step"] = "edit"
        return render(request, ACTION_TEMPLATE, page, status=422)
    if not form.is_confirmed:
        page.update(step="review", call=describe_call(operation, params(form)))
        return render(request, ACTION_TEMPLATE, page)
    try:
        result = perform(form)
    except ActionFailed as failure:
        page.update(step="edit", failure=failure, call=describe_call(operation, params(form)))
        if row_partial is not None and _from_row(request):
            return row_partial({"failure": failure, "status": failure.status})
        return render(request, ACTION_TEMPLATE, page, status=failure.status)
    except ActionRefused as refusal:
        page.update(step="edit", refusal=refusal, call=describe_call(operation, params(form)))
        if row_partial is not None and _from_row(request):
            return row_partial({"refusal": refusal, "status": refusal.status})
        return render(request, ACTION_TEMPLATE, page, status=refusal.status)
    text = success(result)
    if _htmx(request):
        if row_partial is not None and _from_row(request):
            response = row_partial({"done": text, "status": 200})
        else:
            messages.success(request, text)
            response = HttpResponseClientRedirect(next_url)
        return trigger_client_event(response, "orgportal:action-done", {"message": text})
    messages.success(request, text)
    return HttpResponseRedirect(next_url)


def run_invitation(
    request: HttpRequest,
    *,
    connection: AwsConnection,
    form: InviteForm,
    invite: Callable[..., Handshake],
    context: dict[str, Any],
    operation: str,
    fields: dict[str, str] | None = None,
    invitee: str,
    list_url_name: str,
) -> HttpResponse:
    """`run_action` for an invitation `connection` sends (an account to join the organization, an
    organization to transfer its billing): `invite` is the service, called with what every
    invitation has (target, notes, tags) and its own `fields` (service keyword -> form field)."""

    def perform(f: ActionForm) -> Handshake:
        data = f.cleaned_data
        return invite(
            connection=connection,
            actor=request.user,
            target_id=data["target"],
            target_type=data["target_type"],
            **{keyword: data[name] for keyword, name in (fields or {}).items()},
            notes=data.get("notes") or "",
            tags=data.get("tags") or None,
            request=request,
            submission=f.submission_token,
        )

    return run_action(
        request,
        form=form,
        context={**context, "connection": connection},
        operation=operation,
        params=lambda f: form.aws_params(),
        perform=perform,
        success=lambda h: f"Invitation {h.handshake_id} sent to {h.counterparty or invitee}.",
        next_url=safe_next(request, url_or(list_url_name, default="inbox")),
    )


def _htmx(request: HttpRequest) -> HtmxDetails | None:
    """What django-htmx's middleware attached to the request (None when it did not run)."""
    return getattr(request, "htmx", None)


def _from_row(request: HttpRequest) -> bool:
    """An htmx POST from a list row's actions cell (it targets that cell)."""
    htmx = _htmx(request)
    return htmx is not None and bool(htmx) and str(htmx.target or "").startswith("actions-")


def status_line(error: ActionFailed) -> str:
    parts = [error.code]
    if error.request_id:
        parts.append(f"request {error.request_id}")
    return " · ".join(parts)


# --- lookups for this user --------------------------------------------------------------------


def handshake_for_user(request: HttpRequest, pk: int, role: str) -> Handshake:
    """The handshake `pk` on a connection the user may see (404 otherwise) with `role` (403)."""
    handshake = get_object_or_404(
        # The credentials too: the action's AWS call needs them, so it costs no query of its own.
        Handshake.objects.select_related(
            "connection", "connection__read_credentials", "connection__action_credentials"
        ),
        pk=pk,
        connection__in=connections_for(request.user),
    )
    require_role(request.user, handshake.connection, role)
    return handshake


def available_actions(handshake: Handshake, roles: frozenset[str]) -> list[tuple[str, str]]:
    """(url name, label) of the actions this user may take on `handshake` now: the UI hides the rest."""
    if handshake.state not in OPEN_STATES:
        return []
    actions: list[tuple[str, str]] = []
    if handshake.direction == Direction.RECEIVED and Role.APPROVER in roles:
        actions += [("handshake_accept", "Accept…"), ("handshake_decline", "Decline…")]
    if handshake.direction == Direction.SENT and Role.OPERATOR in roles:
        actions.append(("handshake_cancel", "Cancel…"))
    return actions


def render_actions(request: HttpRequest, handshake: Handshake, extra: dict[str, Any] | None = None) -> HttpResponse:
    """The `_actions.html` partial of one handshake (what a row's actions cell shows)."""
    extra = dict(extra or {})
    status = extra.pop("status", 200)
    roles = roles_on(request.user, handshake.connection)
    return render(
        request,
        "handshakes/_actions.html",
        {"handshake": handshake, "actions": available_actions(handshake, roles), **extra},
        status=status,
    )


# --- views ------------------------------------------------------------------------------------

# The past tense of each answer (services.ANSWERS holds its AWS operation and role).
_PAST = {"accept": "accepted", "decline": "declined", "cancel": "canceled"}


def _answer(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    answer, past = services.ANSWERS[verb], _PAST[verb]
    handshake = handshake_for_user(request, pk, answer.role)
    billing = handshake.action == "TRANSFER_RESPONSIBILITY"
    form_class = CancelForm if verb == "cancel" else AnswerForm
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
            "connection": handshake.connection,
            "consequences": BILLING_TRANSFER_CONSEQUENCES if billing and verb == "accept" else (),
            "danger": verb != "accept",
            "confirm_only": True,
            # A billing transfer must be accepted at least 24 h before it starts.
            "accept_by": handshake.transfer_start_at - ACCEPT_BEFORE_START
            if billing and handshake.transfer_start_at
            else None,
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
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "accept")


@action_view(role=Role.APPROVER, target="received_handshake")
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "decline")


@action_view(role=Role.OPERATOR, target="sent_handshake")
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "cancel")


@action_view(role=Role.OPERATOR, target="connection")
def invite_account(request: HttpRequest, connection_pk: int) -> HttpResponse:
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
def enable_all_features(request: HttpRequest, connection_pk: int) -> HttpResponse:
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


def organization_actions(connection: AwsConnection, roles: frozenset[str]) -> list[tuple[str, str]]:
    """Organization-level actions (url name, label) a holder of `roles` may take on `connection`."""
    items: list[tuple[str, str]] = []
    if Role.OPERATOR in roles:
        items.append(("organization_invite_account", "Invite an account"))
    if Role.ADMIN in roles and connection.feature_set != "ALL":
        items.append(("organization_enable_all_features", "Enable all features"))
    return items
