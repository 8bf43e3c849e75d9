"""Connection pages: list, add/edit (admins), test credentials, sync now, sync history.

Thin views: parse, authorize through `orgportal.roles`, call a service in
`orgportal.connections` or the task queue, render the page — or only its partial for htmx.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.events import record

from .connections import connection_save, connection_test
from .forms import ConnectionForm, CredentialsForm
from .models import AwsConnection, Grant, Role
from .pages import HtmxHttpRequest
from .roles import SignedInUser, connections_for, get_connection_for_user, request_user, roles_on
from .tasks import queue_sync

RUNS_SHOWN = 20


def _can_add(user: SignedInUser) -> bool:
    """Superusers, and admins of any connection, may add connections."""
    if user.is_superuser:
        return True
    return Grant.objects.filter(user=user, role=Role.ADMIN).exists()


@login_required
def connection_list(request: HtmxHttpRequest) -> HttpResponse:
    connections = connections_for(request_user(request))
    return render(
        request,
        "orgportal/connection_list.html",
        {"connections": connections, "can_add": _can_add(request_user(request))},
    )


def _forms(
    request: HtmxHttpRequest, connection: AwsConnection | None
) -> tuple[ConnectionForm, CredentialsForm, CredentialsForm]:
    data = request.POST if request.method == "POST" else None
    instance = connection or AwsConnection()
    form = ConnectionForm(data, instance=instance)
    read_form = CredentialsForm(data, prefix="read", instance=connection.read_credentials if connection else None)
    action_form = CredentialsForm(
        data,
        prefix="action",
        instance=connection.action_credentials if connection and connection.action_credentials_id else None,
    )
    return form, read_form, action_form


def _edit(request: HtmxHttpRequest, connection: AwsConnection | None) -> HttpResponse:
    form, read_form, action_form = _forms(request, connection)
    if request.method == "POST":
        uses_action = form.is_valid() and form.cleaned_data["use_action_credentials"]
        valid = form.is_valid() and read_form.is_valid() and (not uses_action or action_form.is_valid())
        if valid:
            saved = connection_save(
                actor=request_user(request), request=request, form=form, read_form=read_form, action_form=action_form
            )
            messages.success(request, f"Saved {saved.name}. Secrets are stored encrypted and never shown again.")
            return redirect("connection_detail", pk=saved.pk)
    return render(
        request,
        "orgportal/connection_form.html",
        {"form": form, "read_form": read_form, "action_form": action_form, "connection": connection},
    )


@login_required
def connection_add(request: HtmxHttpRequest) -> HttpResponse:
    if not _can_add(request_user(request)):
        raise PermissionDenied("Only administrators may add connections.")
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
