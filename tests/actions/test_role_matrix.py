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

from approvals.models import ApprovalRequest, ApprovalRule
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
    import approvals.action_views
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
        "approval_approve",
        "approval_reject",
        "approval_withdraw",
        "approval_rule",
    } <= names
    # Every routed view of the action modules is marked (so it is in the matrix).
    for module in (handshakes.action_views, transfers.action_views, approvals.action_views):
        for view in vars(module).values():
            if callable(view) and getattr(view, "__module__", "") == module.__name__ and hasattr(view, "__wrapped__"):
                assert hasattr(view, "action_role"), view


def _scene(connection: AwsConnection, requester: Any, someone: Any) -> dict[str, Any]:
    """One of each target on `connection`; the approval requests were asked by `someone` (no
    persona: anyone may decide it) and by `requester` (the operator persona: only they withdraw)."""
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
    asked = {"connection": connection, "checker_role": Role.APPROVER, "answer_by": now + timezone.timedelta(days=5)}
    approval = ApprovalRequest.objects.create(
        action="handshake.accept",
        resource=received.handshake_id,
        operation="AcceptHandshake",
        params={"HandshakeId": received.handshake_id},
        arguments={"handshake": received.pk, "verb": "accept"},
        requester=someone,
        requester_label=someone.username,
        **asked,
    )
    own_approval = ApprovalRequest.objects.create(
        action="organization.invite_account",
        resource="ACCOUNT:444444444444",
        operation="InviteAccountToOrganization",
        params={"Target": {"Id": "444444444444", "Type": "ACCOUNT"}},
        arguments={"target_id": "444444444444", "target_type": "ACCOUNT", "notes": "", "tags": None},
        requester=requester,
        requester_label=requester.username,
        **asked,
    )
    return {
        "approval_request": approval,
        "own_approval_request": own_approval,
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
        AuditEvent.objects.filter(action__startswith="approval").count(),
        tuple(ApprovalRequest.objects.order_by("pk").values_list("state", "decided_by_id")),
        tuple(ApprovalRule.objects.order_by("pk").values_list("actions", "checker_role")),
    )


USERS = ["superuser", "admin", "operator", "approver", "viewer", "auditor", "outsider", "anonymous"]


def _expected(user: str, role: str, own: bool, target: str = "") -> int | str:
    if user == "anonymous":
        return 302
    if target == "own_approval_request":
        # Only the requester (the operator persona) withdraws: not an admin, not a superuser.
        if user == "superuser":
            return 403
        if not own or user == "outsider":
            return 404
        return "allowed" if user == "operator" else 403
    if user == "superuser":
        return "allowed"
    if not own or user == "outsider":
        return 404
    return "allowed" if role in IMPLIES[getattr(Role, user.upper())] else 403


def test_every_action_url_by_every_role_on_own_and_other_connection(
    personas: Any, make_connection: Callable[..., AwsConnection], make_user: Callable[..., Any]
) -> None:
    someone = make_user("rita")
    own = _scene(personas.connection, personas.operator, someone)
    other = _scene(make_connection(name="Someone else's payer"), personas.operator, someone)
    before = _state()
    failures: list[str] = []
    for name, role, target in ACTION_URLS:
        for user in USERS:
            client = Client()
            if user != "anonymous":
                client.force_login(getattr(personas, user))
            for is_own, scene in ((True, own), (False, other)):
                url = _url(name, target, scene)
                expected = _expected(user, role, is_own, target)
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


def test_a_forged_confirmed_post_without_the_role_is_refused_before_anything_happens(
    personas: Any, make_user: Callable[..., Any]
) -> None:
    scene = _scene(personas.connection, personas.operator, make_user("rita"))
    before = _state()
    client = personas.login(Client(), "viewer")
    response = client.post(
        reverse("handshake_accept", args=[scene["received_handshake"].pk]), {"confirmed": "on", "understood": "on"}
    )
    assert response.status_code == 403
    response = client.post(reverse("transfer_terminate", args=[scene["accepted_transfer"].pk]), {"confirmed": "on"})
    assert response.status_code == 403
    # Deciding a request needs the checker's roles; withdrawing one is the requester's alone.
    response = client.post(reverse("approval_approve", args=[scene["approval_request"].pk]), {"confirmed": "on"})
    assert response.status_code == 403
    admin = personas.login(Client(), "admin")
    response = admin.post(reverse("approval_withdraw", args=[scene["own_approval_request"].pk]), {"confirmed": "on"})
    assert response.status_code == 403
    assert _state() == before


def test_buttons_are_hidden_from_roles_that_cannot_use_them(personas: Any, make_user: Callable[..., Any]) -> None:
    from django.template import engines

    scene = _scene(personas.connection, personas.operator, make_user("rita"))
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
