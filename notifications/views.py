"""Notification pages: what was sent to me (and, for admins, on their connections), my
subscriptions, the channels and reminder settings of the connections I administer, my calendar
URL; the calendar feed itself and the unsubscribe link, which work without signing in.

Thin views: parse, authorize through the "for this user" lookups (another connection's object is
a 404, a missing role a 403), call a service, render. Every POST is CSRF-checked except the
signed one-click unsubscribe (RFC 8058: mail clients post it without our cookie; the signature
is the authorization).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgportal.models import AwsConnection, Role
from orgportal.roles import SignedInUser, connections_for, get_connection_for_user, request_user, roles_on

from . import ics, selectors, services
from .delivery import absolute
from .forms import ChannelForm, ConnectionSettingsForm, SubscriptionForm
from .models import Channel, Delivery
from .outbox import settings_for

T = TypeVar("T")


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    deliveries = list(selectors.deliveries_for(user)[: selectors.SHOWN])
    admin_of = set(selectors.admin_connection_ids(user))
    return render(request, "notifications/list.html", {"deliveries": deliveries, "admin_of": admin_of})


def _section_form(name: str, connection: AwsConnection, data: Any = None, **options: Any) -> Any:
    """One of a connection's forms on the settings page, under the prefix that keeps it apart from
    the other connections' (bound to `data` when posted)."""
    if name == "subscription_form":
        rows = options.pop("channel_rows", None) or list(Channel.objects.filter(connection=connection))
        return SubscriptionForm(data, prefix=f"s{connection.pk}", channel_rows=rows, **options)
    if name == "settings_form":
        return ConnectionSettingsForm(data, prefix=f"r{connection.pk}", **options)
    return ChannelForm(data, prefix=f"ch{connection.pk}", **options)


def _connection_forms(user: SignedInUser, connection: AwsConnection) -> dict[str, Any]:
    channel_rows = list(Channel.objects.filter(connection=connection))
    chosen = selectors.subscription_for(user, connection)
    roles = roles_on(user, connection)
    config = settings_for(connection)
    return {
        "connection": connection,
        "is_admin": Role.ADMIN in roles,
        "is_default": chosen.is_default,
        "channels": channel_rows,
        "subscription_form": _section_form(
            "subscription_form",
            connection,
            channel_rows=channel_rows,
            initial={"events": sorted(chosen.events), "channels": sorted(chosen.channels), "digest": chosen.digest},
        ),
        "channel_form": _section_form("channel_form", connection),
        "settings_form": _section_form(
            "settings_form",
            connection,
            initial={
                "reminders": ", ".join(str(int(t.total_seconds() // 3600)) for t in config.thresholds()),
                "sync_failing_after": config.sync_failing_after_seconds // 60,
            },
        ),
    }


def _settings_page(request: HttpRequest, replace: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    """The settings page; `replace` swaps in one connection's bound (invalid) form."""
    user = request_user(request)
    sections = []
    for connection in connections_for(user):
        section = _connection_forms(user, connection)
        if replace and replace.get("connection") == connection.pk:
            section.update(replace["forms"])
        sections.append(section)
    return render(request, "notifications/settings.html", {"sections": sections}, status=status)


@login_required
@require_GET
def notification_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@dataclass(frozen=True)
class _Section:
    """A valid POST of one connection's form on the settings page: who posts, where, what."""

    request: HttpRequest
    connection: AwsConnection
    data: dict[str, Any]

    def act(self, service: Callable[..., T], **arguments: Any) -> T:
        """Call the notification service `service` as this user, on this connection."""
        return service(actor=request_user(self.request), connection=self.connection, request=self.request, **arguments)


def _section_post(role: Role, name: str) -> Callable[[Callable[[_Section], HttpResponse]], Callable[..., HttpResponse]]:
    """The view of a POST of one connection's form `name` on the settings page: the connection
    `pk` (where the user holds `role`, else 404/403) and the form bound to the POST. An invalid
    form shows the settings page again with that form in place, its errors shown (422); a valid
    one goes to the decorated function."""

    def decorate(save: Callable[[_Section], HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @require_POST
        @wraps(save)
        def view(request: HttpRequest, pk: int) -> HttpResponse:
            connection = get_connection_for_user(request_user(request), pk, role)
            form = _section_form(name, connection, request.POST)
            if not form.is_valid():
                return _settings_page(request, {"connection": pk, "forms": {name: form}}, status=422)
            return save(_Section(request, connection, form.cleaned_data))

        return view

    return decorate


def _saved(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("notifications:settings")


@_section_post(Role.VIEWER, "subscription_form")
def subscribe(section: _Section) -> HttpResponse:
    data = section.data
    section.act(
        services.subscription_save, events=data["events"], channel_choices=data["channels"], digest=data["digest"]
    )
    return _saved(section.request, f"Saved your notifications for {section.connection.name}.")


@_section_post(Role.ADMIN, "settings_form")
def connection_settings(section: _Section) -> HttpResponse:
    section.act(
        services.connection_settings_save,
        reminder_seconds=section.data["reminders"],
        sync_failing_after_seconds=section.data["sync_failing_after"] * 60,
    )
    return _saved(section.request, f"Saved the reminders of {section.connection.name}.")


@_section_post(Role.ADMIN, "channel_form")
def channel_add(section: _Section) -> HttpResponse:
    data = section.data
    channel, secret = section.act(services.channel_add, kind=data["kind"], name=data["name"], url=data["url"])
    # Shown on this answer only (not stored in a flash message): the signing secret, once.
    return render(section.request, "notifications/secret_once.html", {"channel": channel, "secret": secret})


@login_required
@require_POST
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    channel = selectors.get_channel_for_user(user, pk, Role.ADMIN)
    services.channel_delete(actor=user, channel=channel, request=request)
    return _saved(request, f"Removed {channel.name}.")


def _tested(request: HttpRequest, delivery: Delivery) -> HttpResponse:
    if delivery.state != Delivery.State.SENT:
        messages.error(request, f"The test message did not get through ({delivery.where}): {delivery.last_error}")
        return redirect("notifications:settings")
    return _saved(request, f"Test message sent ({delivery.where}).")


@login_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    channel = selectors.get_channel_for_user(user, pk, Role.ADMIN)
    return _tested(
        request, services.send_test(actor=user, connection=channel.connection, channel=channel, request=request)
    )


@login_required
@require_POST
def email_test(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    connection = get_connection_for_user(user, pk, Role.VIEWER)
    if not user.email:
        messages.error(request, "Your account has no email address; ask an administrator to add one.")
        return redirect("notifications:settings")
    return _tested(request, services.send_test(actor=user, connection=connection, channel=None, request=request))


@login_required
@require_POST
def delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    delivery = selectors.get_delivery_for_user(user, pk, Role.ADMIN)
    outcome = services.delivery_retry(actor=user, delivery=delivery, request=request)
    delivery.refresh_from_db()
    if outcome.sent:
        messages.success(request, f"Sent again ({delivery.where}).")
    elif outcome.attempted:
        messages.error(request, f"Tried again; it did not get through: {delivery.last_error}")
    else:
        messages.info(request, f"Nothing to retry: the notification is {delivery.get_state_display().lower()}.")
    return redirect("notifications:list")


@login_required
@require_POST
def calendar_rotate(request: HttpRequest) -> HttpResponse:
    token = services.calendar_rotate(actor=request_user(request), request=request)
    url = absolute(reverse("notifications:calendar_feed", args=[token]))
    return render(request, "notifications/secret_once.html", {"calendar_url": url})


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    user = selectors.feed_user(token)
    if user is None:
        raise Http404("No such calendar")
    body = ics.calendar(user)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        # A link scanner following the link must not unsubscribe anyone: GET only asks.
        return render(request, "notifications/unsubscribe.html", {"token": token, "done": None})
    result = services.unsubscribe(token=token, request=request)
    if result is None:
        return render(
            request, "notifications/unsubscribe.html", {"token": token, "done": None, "bad": True}, status=400
        )
    _, connection = result
    return render(request, "notifications/unsubscribe.html", {"done": connection})
