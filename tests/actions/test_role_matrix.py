"""The whole role matrix: every state-changing URL (collected from the URLconf) x every role x
own/other connection → 403 / 404 / allowed; GET never changes anything, and neither does a POST
that stops at the review step. No AWS is reached: the connections point at a closed port, so an
accidental AWS call would fail loudly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from audit.models import AuditEvent
from handshakes.models import Direction as HandshakeDirection
from handshakes.models import Handshake
from orgportal.models import AwsConnection, InFlightAction, Role
from orgportal.roles import IMPLIES
from transfers.models import Direction as TransferDirection
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def action_urls() -> list[tuple[str, str, str]]:
    """(url name, required role, target kind) of every view marked with @action_view."""
    found: list[tuple[str, str, str]] = []

    def walk(patterns: list[Any]) -> Iterator[URLPattern]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern

    for pattern in walk(get_resolver().url_patterns):
        role = getattr(pattern.callback, "action_role", None)
        if role is not None:
            found.append((pattern.name, role, pattern.callback.action_target))
    return sorted(found)


ACTION_URLS = action_urls()


def test_the_matrix_covers_every_action_view_of_both_areas() -> None:
    import handshakes.action_views
    import transfers.action_views

    names = {name for name, _, _ in ACTION_URLS}
    assert {
        "handshake_accept",
        "handshake_decline",
        "handshake_cancel",
        "organization_invite_account",
        "organization_enable_all_features",
        "transfer_invite",
        "transfer_cancel",
        "transfer_rename",
        "transfer_terminate",
    } <= names
    # Every routed view of the action modules is marked (so it is in the matrix).
    for module in (handshakes.action_views, transfers.action_views):
        for view in vars(module).values():
            if callable(view) and getattr(view, "__module__", "") == module.__name__ and hasattr(view, "__wrapped__"):
                assert hasattr(view, "action_role"), view


def _scene(connection: AwsConnection) -> dict[str, Any]:
    now = timezone.now()
    common = {"connection": connection, "requested_at": now, "expires_at": now + timezone.timedelta(days=10)}
    received = Handshake.objects.create(
        handshake_id=f"h-recv{connection.pk:06d}",
        action="TRANSFER_RESPONSIBILITY",
        state="OPEN",
        direction=HandshakeDirection.RECEIVED,
        counterparty="999999999999",
        **common,
    )
    sent = Handshake.objects.create(
        handshake_id=f"h-sent{connection.pk:06d}",
        action="INVITE",
        state="OPEN",
        direction=HandshakeDirection.SENT,
        counterparty="888888888888",
        **common,
    )
    requested = ResponsibilityTransfer.objects.create(
        connection=connection,
        transfer_id=f"rt-req{connection.pk:06d}",
        direction=TransferDirection.INBOUND,
        name="Requested one",
        status="REQUESTED",
        active_handshake_id=sent.handshake_id,
    )
    accepted = ResponsibilityTransfer.objects.create(
        connection=connection,
        transfer_id=f"rt-acc{connection.pk:06d}",
        direction=TransferDirection.INBOUND,
        name="Accepted one",
        status="ACCEPTED",
    )
    return {
        "received_handshake": received,
        "sent_handshake": sent,
        "requested_transfer": requested,
        "accepted_transfer": accepted,
        "connection": connection,
    }


def _url(name: str, target: str, scene: dict[str, Any]) -> str:
    return reverse(name, args=[scene[target].pk])


def _state() -> tuple[Any, ...]:
    return (
        AuditEvent.objects.filter(action__regex=r"^(handshake|transfer|organization)\.").count(),
        InFlightAction.objects.count(),
        tuple(Handshake.objects.order_by("pk").values_list("state", "changed_at")),
        tuple(ResponsibilityTransfer.objects.order_by("pk").values_list("status", "name", "changed_at")),
    )


USERS = ["superuser", "admin", "operator", "approver", "viewer", "auditor", "outsider", "anonymous"]


def _expected(user: str, role: str, own: bool) -> int | str:
    if user == "anonymous":
        return 302
    if user == "superuser":
        return "allowed"
    if not own or user == "outsider":
        return 404
    return "allowed" if role in IMPLIES[getattr(Role, user.upper())] else 403


def test_every_action_url_by_every_role_on_own_and_other_connection(
    personas: Any, make_connection: Callable[..., AwsConnection]
) -> None:
    own = _scene(personas.connection)
    other = _scene(make_connection(name="Someone else's payer"))
    before = _state()
    failures: list[str] = []
    for name, role, target in ACTION_URLS:
        for user in USERS:
            client = Client()
            if user != "anonymous":
                client.force_login(getattr(personas, user))
            for is_own, scene in ((True, own), (False, other)):
                url = _url(name, target, scene)
                expected = _expected(user, role, is_own)
                for method in ("get", "post"):
                    response = getattr(client, method)(url, {})
                    status = response.status_code
                    ok = status in (200, 422) if expected == "allowed" else status == expected
                    if not ok:
                        failures.append(
                            f"{method.upper()} {name} as {user} ({'own' if is_own else 'other'}): {status}, expected {expected}"
                        )
    assert not failures, "\n".join(failures)
    # Nothing above was confirmed: no claim, no audit row of an action, no row changed.
    assert _state() == before


def test_a_forged_confirmed_post_without_the_role_is_refused_before_anything_happens(personas: Any) -> None:
    scene = _scene(personas.connection)
    before = _state()
    client = personas.login(Client(), "viewer")
    response = client.post(
        reverse("handshake_accept", args=[scene["received_handshake"].pk]), {"confirmed": "on", "understood": "on"}
    )
    assert response.status_code == 403
    response = client.post(reverse("transfer_terminate", args=[scene["accepted_transfer"].pk]), {"confirmed": "on"})
    assert response.status_code == 403
    assert _state() == before


def test_buttons_are_hidden_from_roles_that_cannot_use_them(personas: Any) -> None:
    from django.template import engines

    scene = _scene(personas.connection)
    template = engines["django"].from_string(
        '{% include "handshakes/_actions.html" with handshake=received %}{% include "transfers/_actions.html" with transfer=accepted %}'
    )

    def render(user: str) -> str:
        req = RequestFactory().get("/")
        req.user = getattr(personas, user)
        return template.render(
            {"received": scene["received_handshake"], "accepted": scene["accepted_transfer"], "request": req}
        )

    assert "Accept" not in render("viewer") and "End transfer" not in render("viewer")
    assert "Accept" in render("approver") and "End transfer" not in render("approver")
    assert "End transfer" in render("admin") and "Accept" in render("admin")
    assert "Accept" not in render("operator")
