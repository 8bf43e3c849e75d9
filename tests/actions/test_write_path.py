"""The write path as a service writes it (`orgportal.writepath.ActionClaim`): who may, the guard on
the fresh row, the AWS call, what to apply — and what the claim guarantees around them, even when
the portal fails after AWS has answered. Real boto3 to orgsim; the actions are written here as a
service writes them."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from orgportal.models import InFlightAction, Role
from orgportal.writepath import ActionClaim, ActionRefused, resource_key
from tests.actions.conftest import Invitation, Side, calls_of
from transfers.models import Direction, ResponsibilityTransfer
from transfers.services import transfer_rename

pytestmark = pytest.mark.django_db


def _accept_claim(invitation: Invitation, actor: Any) -> ActionClaim:
    handshake = invitation.handshake
    return ActionClaim(
        connection=handshake.connection,
        actor=actor,
        request=None,
        action="handshake.accept",
        resource=handshake.handshake_id,
        key=resource_key("handshake", handshake.handshake_id),
    )


def test_an_answer_the_portal_cannot_record_frees_the_claim_and_is_audited(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    approver = make_user("april", roles=[Role.APPROVER], connection=billing_invitation.source.connection)
    with pytest.raises(KeyError), _accept_claim(billing_invitation, approver) as claim:
        data = claim.call("AcceptHandshake", {"HandshakeId": billing_invitation.handshake.handshake_id})
        data["NotInTheAnswer"]  # the portal misreads AWS's answer while applying it
    assert calls_of(orgsim, "AcceptHandshake") == 1
    assert not InFlightAction.objects.exists()  # nobody is locked out of the handshake
    events = list(AuditEvent.objects.filter(action="handshake.accept").order_by("id"))
    assert [e.outcome for e in events] == ["intent", "error"]
    assert events[1].aws_request_id  # AWS did act: the trail names its request
    assert "failed to record" in events[1].error


def test_a_guard_that_refuses_under_the_claim_leaves_no_claim_and_no_audit(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    approver = make_user("april", roles=[Role.APPROVER], connection=billing_invitation.source.connection)
    with pytest.raises(ActionRefused), _accept_claim(billing_invitation, approver):
        raise ActionRefused("No longer open.")
    assert calls_of(orgsim, "AcceptHandshake") == 0
    assert not InFlightAction.objects.exists()
    assert not AuditEvent.objects.filter(action="handshake.accept").exists()


def test_a_second_claim_on_the_same_resource_is_refused_while_the_first_holds_it(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    approver = make_user("april", roles=[Role.APPROVER], connection=billing_invitation.source.connection)
    with _accept_claim(billing_invitation, approver):
        with pytest.raises(ActionRefused, match="already under way"), _accept_claim(billing_invitation, approver):
            pass
        # The block never called AWS: leaving it gives the resource back.
    assert not InFlightAction.objects.exists()
    assert calls_of(orgsim, "AcceptHandshake") == 0


def test_operator_cannot_rename_a_transfer_that_has_ended_and_aws_is_not_called(
    orgsim: Any, payer: Side, make_user: Any
) -> None:
    operator = make_user("oscar", roles=[Role.OPERATOR], connection=payer.connection)
    ended = ResponsibilityTransfer.objects.create(
        connection=payer.connection, transfer_id="rt-ended0000001", direction=Direction.INBOUND, status="WITHDRAWN"
    )
    with pytest.raises(ActionRefused, match="withdrawn"):
        transfer_rename(transfer=ended, actor=operator, name="New name")
    assert calls_of(orgsim, "UpdateResponsibilityTransfer") == 0
    assert not AuditEvent.objects.filter(action="transfer.rename").exists()
    # The page offers what the service allows: no rename either.
    assert not ended.can_rename() and not ended.can_terminate() and not ended.can_cancel()
