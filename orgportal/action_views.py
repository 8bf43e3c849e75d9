"""The one flow of every action view (handshakes', the organization's, transfers', policies'
to come): GET shows the form (or, for a confirmation only, the review); a POST without
`confirmed` validates and shows exactly what will be sent; a POST with `confirmed` calls the
service. Bad input is a 422 with the form again, nothing sent. AWS errors read in plain words with
the code and the request id beside them. After success an htmx request gets the re-rendered
actions partial (when it came from a row) or an HX-Redirect, with a client event; a plain POST
gets a redirect and a flash message.

Authorization is the views' first line (each kind's "for this user" helper), on GET as well as
POST; the services check the role again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from .action_forms import ActionForm, InviteForm
from .models import AwsConnection
from .pages import HtmxHttpRequest
from .roles import request_roles_on
from .writepath import ActionFailed, ActionHeld, ActionRefused

ACTION_TEMPLATE = "orgportal/action_page.html"

# (url name, label) of each action a user may take on an object now.
Actions = list[tuple[str, str]]
# (url name, label, pk of the row to act on) where one list row stands for several cached rows
# (a billing transfer held on both sides): each action acts through the side that allows it.
SideActions = list[tuple[str, str, int]]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def describe_call(operation: str, params: dict[str, Any]) -> str:
    """The call exactly as it will be sent, readable (shown on the review page, escaped)."""
    return f"{operation}\n{json.dumps(params, indent=2, default=_json_value, ensure_ascii=False)}"


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` the form carries when it stays on this site, else `fallback`."""
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
    request: HtmxHttpRequest,
    *,
    form: ActionForm,
    context: dict[str, Any],
    operation: str,
    params: Callable[[ActionForm], dict[str, Any]],
    perform: Callable[[ActionForm], Any],
    success: Callable[[Any], str],
    next_url: str,
    row_partial: Callable[[Any], HttpResponse] | None = None,
    done_url: Callable[[Any], str] | None = None,
    explain: Callable[[ActionForm], list[str]] | None = None,
) -> HttpResponse:
    """Edit → review → confirm, for every action view (see the module docstring). After success
    the user goes to `next_url`, or to `done_url(result)` when that depends on the result (the
    page of what the action created). With `explain`, the review says what the valid form will do
    in plain words, and the exact call folds away beneath it."""
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
        if explain is not None:
            page["explanation"] = explain(form)
        return render(request, ACTION_TEMPLATE, page)
    try:
        result = perform(form)
    except ActionFailed as failure:
        page.update(step="edit", failure=failure, call=describe_call(operation, params(form)))
        if row_partial is not None and _from_row(request):
            return row_partial({"failure": failure, "status": failure.status})
        return render(request, ACTION_TEMPLATE, page, status=failure.status)
    except ActionHeld as held:
        # Not sent: held for a second person. Said like a success, and the user goes to the page
        # that tracks it (a row's cell says it in place).
        if row_partial is not None and _from_row(request):
            response = row_partial({"done": held.message, "status": 200})
            return trigger_client_event(response, "orgportal:action-held", {"message": held.message})
        messages.info(request, held.message)
        if request.htmx:
            return trigger_client_event(HttpResponseClientRedirect(held.url), "orgportal:action-held", {})
        return HttpResponseRedirect(held.url)
    except ActionRefused as refusal:
        page.update(step="edit", refusal=refusal, call=describe_call(operation, params(form)))
        if row_partial is not None and _from_row(request):
            return row_partial({"refusal": refusal, "status": refusal.status})
        return render(request, ACTION_TEMPLATE, page, status=refusal.status)
    # A service that re-read the other side's copies (the portal holds both sides) says so.
    text = success(result) + getattr(result, "other_sides_note", "")
    if done_url is not None:
        next_url = done_url(result)
    if request.htmx:
        if row_partial is not None and _from_row(request):
            response = row_partial({"done": text, "status": 200})
        else:
            messages.success(request, text)
            response = HttpResponseClientRedirect(next_url)
        return trigger_client_event(response, "orgportal:action-done", {"message": text})
    messages.success(request, text)
    return HttpResponseRedirect(next_url)


def run_invitation(
    request: HtmxHttpRequest,
    *,
    connection: AwsConnection,
    form: InviteForm,
    invite: Callable[..., Any],
    context: dict[str, Any],
    operation: str,
    fields: dict[str, str] | None = None,
    invitee: str,
    list_url_name: str,
    explain: Callable[[ActionForm], list[str]] | None = None,
) -> HttpResponse:
    """`run_action` for an invitation `connection` sends (an account to join the organization, an
    organization to transfer its billing): `invite` is the service, called with what every
    invitation has (target, notes, tags) and its own `fields` (service keyword -> form field);
    `explain` says it in plain words on the review."""

    def perform(f: ActionForm) -> Any:
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
        explain=explain,
    )


def _from_row(request: HtmxHttpRequest) -> bool:
    """An htmx POST from a list row's actions cell (it targets that cell)."""
    return bool(request.htmx) and str(request.htmx.target or "").startswith("actions-")


def render_row_actions(
    request: HttpRequest,
    obj: Any,
    *,
    template: str,
    name: str,
    actions: Callable[[Any, frozenset[str]], Actions | SideActions],
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The actions partial `template` of one row (`obj`, named `name` in it): what its actions
    cell shows — the actions the user may take now and the outcome in `extra` (its "status" is
    the response's status)."""
    extra = dict(extra or {})
    status = extra.pop("status", 200)
    allowed = actions(obj, request_roles_on(request, obj.connection))
    return render(request, template, {name: obj, "actions": allowed, **extra}, status=status)
