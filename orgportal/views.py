"""Connection pages: list, add/edit (admins), test credentials (saved, or a form's before saving),
sync now, sync history.

Thin views: parse, authorize through `orgportal.roles`, call a service in
`orgportal.connections` or the task queue, render the page — or only its partial for htmx.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.events import record

from .connections import connection_forms, connection_save, connection_test, connection_try, may_add_connections
from .models import AwsConnection, Role
from .pages import HtmxHttpRequest
from .roles import connections_for, get_connection_for_user, request_user, roles_on
from .tasks import queue_sync

RUNS_SHOWN = 20


@login_required
def connection_list(request: HtmxHttpRequest) -> HttpResponse:
    connections = connections_for(request_user(request))
    return render(
        request,
        "orgportal/connection_list.html",
        {"connections": connections, "can_add": may_add_connections(request_user(request))},
    )


def _edit(request: HtmxHttpRequest, connection: AwsConnection | None) -> HttpResponse:
    actor = request_user(request)
    forms = connection_forms(request.POST if request.method == "POST" else None, actor=actor, connection=connection)
    refused = False
    if request.method == "POST":
        if forms.is_valid():
            saved = connection_save(actor=actor, request=request, forms=forms)
            messages.success(request, f"Saved {saved.name}. Secrets are stored encrypted and never shown again.")
            return redirect("connection_detail", pk=saved.pk)
        refused = True
    return _form_page(request, forms, connection, status=400 if refused else 200)


def _form_page(
    request: HtmxHttpRequest, forms: Any, connection: AwsConnection | None, *, status: int, **more: Any
) -> HttpResponse:
    context = {"form": forms.form, "read_form": forms.read, "action_form": forms.action, "connection": connection}
    return render(request, "orgportal/connection_form.html", {**context, **more}, status=status)


def _check_may_add(request: HtmxHttpRequest) -> None:
    if not may_add_connections(request_user(request)):
        raise PermissionDenied("Only administrators may add connections.")


@login_required
def connection_add(request: HtmxHttpRequest) -> HttpResponse:
    _check_may_add(request)
    return _edit(request, None)


@login_required
def connection_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request_user(request), pk, Role.ADMIN)
    return _edit(request, connection)


@login_required
def connection_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request_user(request), pk, Role.VIEWER)
    runs = connection.sync_runs.order_by("-started_at")[:RUNS_SHOWN]
    context = {"connection": connection, "runs": runs, "roles": roles_on(request_user(request), connection)}
    template = "orgportal/connection_detail.html"
    if request.htmx:
        template += "#runs"
    return render(request, template, context)


@login_required
@require_POST
def connection_test_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request_user(request), pk, Role.ADMIN)
    results = connection_test(connection=connection, actor=request_user(request), request=request)
    context = {"connection": connection, "results": results}
    if request.htmx:
        return render(request, "orgportal/_connection_test.html", context)
    return render(request, "orgportal/connection_test.html", context)


def _try(request: HtmxHttpRequest, connection: AwsConnection | None) -> HttpResponse:
    """Test the credentials the posted form holds, without saving: the results in place (htmx),
    or the form again with them (and the form's errors, if any, instead of a test)."""
    actor = request_user(request)
    forms = connection_forms(request.POST, actor=actor, connection=connection)
    valid = forms.is_valid()
    results = connection_try(forms=forms, actor=actor, request=request) if valid else []
    form_errors = [] if valid else _error_lines(forms)
    if request.htmx:
        return render(
            request,
            "orgportal/_connection_test.html",
            {"results": results, "form_errors": form_errors},
            status=200 if valid else 400,
        )
    return _form_page(
        request, forms, connection, results=results, form_errors=form_errors, status=200 if valid else 400
    )


def _error_lines(forms: Any) -> list[str]:
    lines = []
    for form in (forms.form, forms.read, forms.action):
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            lines += [f"{label}: {error}" if label else str(error) for error in errors]
    return lines


@login_required
@require_POST
def connection_try_new(request: HtmxHttpRequest) -> HttpResponse:
    _check_may_add(request)
    return _try(request, None)


@login_required
@require_POST
def connection_try_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _try(request, get_connection_for_user(request_user(request), pk, Role.ADMIN))


@login_required
@require_POST
def connection_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request_user(request), pk, Role.OPERATOR)
    record(
        action="connection.sync_requested",
        request=request,
        connection=connection,
        resource=f"connection/{connection.pk}",
    )
    queue_sync(connection)
    note = "Sync queued. This page shows the result when a worker has run it."
    if request.htmx:
        return render(request, "orgportal/_connection_sync_queued.html", {"connection": connection, "note": note})
    messages.success(request, note)
    return redirect("connection_detail", pk=connection.pk)
