"""Accept, decline and cancel through the portal against orgsim: the write path end to end — the
claim, the audit intent and outcome with the AWS request id, the cached row and its "action"
history, the transfer following its handshake, and AWS errors in plain words with a resync."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from handshakes.models import HandshakeChange
from handshakes.services import handshake_accept
from orgportal.models import InFlightAction, Role
from tests.actions.conftest import Invitation, calls_of
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def _approver(make_user: Any, invitation: Invitation) -> Client:
    user = make_user("april", roles=[Role.APPROVER], connection=invitation.source.connection)
    client = Client()
    client.force_login(user)
    return client


def test_approver_reads_the_consequences_before_accepting(billing_invitation: Invitation, make_user: Any) -> None:
    client = _approver(make_user, billing_invitation)
    response = client.get(reverse("handshake_accept", args=[billing_invitation.handshake.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "separate invoice" in page and "Cost Explorer" in page and "Export" in page
    assert "AcceptHandshake" in page and billing_invitation.handshake.handshake_id in page


def test_accepting_without_ticking_the_consequences_is_refused_without_an_aws_call(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    client = _approver(make_user, billing_invitation)
    response = client.post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), {"confirmed": "on"})
    assert response.status_code == 422
    assert calls_of(orgsim, "AcceptHandshake") == 0


def test_approver_accepts_billing_transfer_and_everything_is_recorded(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    client = _approver(make_user, billing_invitation)
    handshake = billing_invitation.handshake
    response = client.post(
        reverse("handshake_accept", args=[handshake.pk]), {"confirmed": "on", "understood": "on", "next": "/"}
    )
    assert response.status_code == 302
    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
    assert calls_of(orgsim, "AcceptHandshake") == 1
    change = HandshakeChange.objects.filter(handshake=handshake).latest("id")
    assert change.kind == "action" and change.changes["state"][1] == "ACCEPTED"
    events = list(AuditEvent.objects.filter(action="handshake.accept").order_by("id"))
    assert [e.outcome for e in events] == ["intent", "ok"]
    assert events[1].aws_request_id and events[1].actor_label == "april"
    assert not InFlightAction.objects.exists()
    # The source sees its outbound transfer accepted too, at once (the next sync confirms).
    transfer = ResponsibilityTransfer.objects.get(connection=billing_invitation.source.connection)
    assert transfer.status == "ACCEPTED"


def test_htmx_accept_from_a_row_rerenders_the_actions_cell(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    client = _approver(make_user, billing_invitation)
    handshake = billing_invitation.handshake
    response = client.post(
        reverse("handshake_accept", args=[handshake.pk]),
        {"confirmed": "on", "understood": "on"},
        headers={"HX-Request": "true", "HX-Target": f"actions-handshake-{handshake.pk}"},
    )
    assert response.status_code == 200
    assert f'id="actions-handshake-{handshake.pk}"' in response.content.decode()
    assert "accepted" in response.content.decode()
    assert "orgportal:action-done" in response.headers["HX-Trigger"]


def test_when_aws_already_moved_the_user_reads_why_and_the_row_is_resynced(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    handshake = billing_invitation.handshake
    # Someone accepted in the AWS console: the portal's cache still says OPEN.
    orgsim.client(billing_invitation.source.org.management_account_id).accept_handshake(
        HandshakeId=handshake.handshake_id
    )
    client = _approver(make_user, billing_invitation)
    response = client.post(reverse("handshake_accept", args=[handshake.pk]), {"confirmed": "on", "understood": "on"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "HandshakeAlreadyInStateException" in page and "already in that state" in page
    assert "refreshed it from AWS" in page
    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
    error = AuditEvent.objects.filter(action="handshake.accept", outcome="error").get()
    assert error.error.startswith("HandshakeAlreadyInStateException") and error.aws_request_id
    assert not InFlightAction.objects.exists()


def test_approver_declines_and_a_second_decline_is_refused_by_the_cache_guard(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    client = _approver(make_user, billing_invitation)
    url = reverse("handshake_decline", args=[billing_invitation.handshake.pk])
    assert client.post(url, {"confirmed": "on"}).status_code == 302
    response = client.post(url, {"confirmed": "on"})
    assert response.status_code == 409
    assert "already declined" in response.content.decode()
    assert calls_of(orgsim, "DeclineHandshake") == 1


def test_operator_cancels_a_sent_invitation_and_the_payer_transfer_follows(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    payer = billing_invitation.payer
    user = make_user("oscar", roles=[Role.OPERATOR], connection=payer.connection)
    client = Client()
    client.force_login(user)
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection, status="REQUESTED")
    response = client.post(reverse("transfer_cancel", args=[transfer.pk]), {"confirmed": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    transfer.refresh_from_db()
    assert transfer.status == "CANCELED"
    assert calls_of(orgsim, "CancelHandshake") == 1


def test_a_user_without_the_role_cannot_call_the_service_from_code_either(
    billing_invitation: Invitation, make_user: Any
) -> None:
    from django.core.exceptions import PermissionDenied

    viewer = make_user("victor", roles=[Role.VIEWER], connection=billing_invitation.source.connection)
    with pytest.raises(PermissionDenied):
        handshake_accept(handshake=billing_invitation.handshake, actor=viewer)
