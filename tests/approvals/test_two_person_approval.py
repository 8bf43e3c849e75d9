"""Two-person approval through the portal, with real boto3 to orgsim over HTTP: with the rule on,
a confirmed accept becomes a request and makes no AWS call; the requester can never approve it
(not as a superuser either); a second person's approval makes exactly one call with exactly the
stored parameters; rejecting and withdrawing send nothing; a request on an invitation that expires
in AWS lapses and sends nothing (on approval, and from the beat task); the inbox shows a request to
those who may approve it; the audit trail tells every step with who."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalRule, State
from approvals.tasks import lapse_requests
from audit.models import AuditEvent
from handshakes.models import Handshake
from orgportal.models import InFlightAction, Role
from tests.actions.conftest import Invitation, calls_of
from tests.actions.test_transfer_actions import _choice_value
from tests.approvals.conftest import People, rule_on
from transfers.models import ResponsibilityTransfer
from transfers.services import end_choices

pytestmark = pytest.mark.django_db

ACCEPT = {"confirmed": "on", "understood": "on"}


def _ask_to_accept(invitation: Invitation, people: People) -> ApprovalRequest:
    """april confirms the accept with the rule on: a request, nothing sent."""
    response = people.client("april").post(reverse("handshake_accept", args=[invitation.handshake.pk]), ACCEPT)
    approval = ApprovalRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("approval_detail", args=[approval.pk])
    return approval


def _audit(prefix: str = "approval.") -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(action__startswith=prefix)
        .order_by("id")
        .values_list("action", "outcome", "actor_label")
    )


def test_with_the_rule_on_the_first_accept_becomes_a_request_and_makes_no_aws_call(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)

    assert calls_of(orgsim, "AcceptHandshake") == 0
    handshake = billing_invitation.handshake
    assert approval.state == State.PENDING and approval.requester == people.april
    assert approval.action == "handshake.accept" and approval.resource == handshake.handshake_id
    assert approval.operation == "AcceptHandshake" and approval.params == {"HandshakeId": handshake.handshake_id}
    # Answer by the invitation's own deadline (the accept-by moment or the expiry, whichever first).
    assert approval.answer_by == handshake.answer_by()
    handshake.refresh_from_db()
    assert handshake.state in ("OPEN", "REQUESTED")
    assert not AuditEvent.objects.filter(action="handshake.accept").exists()
    assert _audit() == [("approval.request", "ok", "april")]
    assert not InFlightAction.objects.exists()
    # The request's page says what will be sent, and that april cannot approve it herself.
    page = people.client("april").get(reverse("approval_detail", args=[approval.pk])).content.decode()
    assert "AcceptHandshake" in page and handshake.handshake_id in page and "a different person" in page


def test_asking_twice_finds_the_waiting_request(orgsim: Any, billing_invitation: Invitation, people: People) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    _ask_to_accept(billing_invitation, people)
    response = people.client("bob").post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT)
    assert response.status_code == 409
    assert "already waiting for approval" in response.content.decode()
    assert ApprovalRequest.objects.count() == 1 and calls_of(orgsim, "AcceptHandshake") == 0


def test_without_the_rule_or_for_another_action_the_accept_goes_straight_to_aws(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "transfer.terminate")
    response = people.client("april").post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT)
    assert response.status_code == 302
    assert calls_of(orgsim, "AcceptHandshake") == 1 and not ApprovalRequest.objects.exists()


def test_the_requester_cannot_approve_their_own_request(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    # A second login of the same person is the same user id.
    second_login = people.client("april")
    response = second_login.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 403
    assert "a different person must approve" in response.content.decode()
    approval.refresh_from_db()
    assert approval.state == State.PENDING and calls_of(orgsim, "AcceptHandshake") == 0
    assert ("approval.approve", "denied", "april") in _audit()
    # Rejecting it herself is refused too (she withdraws instead).
    response = second_login.post(reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": "x"})
    assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.state == State.PENDING
    assert ("approval.reject", "denied", "april") in _audit()


def test_a_superuser_requester_cannot_override_the_second_person(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    root = make_user("root", superuser=True)
    client = Client()
    client.force_login(root)
    client.post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT)
    approval = ApprovalRequest.objects.get()
    response = client.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.state == State.PENDING and calls_of(orgsim, "AcceptHandshake") == 0


def test_a_second_approver_approves_and_exactly_the_requested_call_is_made_once(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    bob = people.client("bob")
    review = bob.get(reverse("approval_approve", args=[approval.pk]))
    assert review.status_code == 200 and "AcceptHandshake" in review.content.decode()
    assert "separate invoice" in review.content.decode()  # bob reads what april read before asking
    response = bob.post(
        reverse("approval_approve", args=[approval.pk]), {"confirmed": "on", "reason": "Checked the PO"}
    )
    assert response.status_code == 302

    assert calls_of(orgsim, "AcceptHandshake") == 1
    approval.refresh_from_db()
    assert approval.state == State.EXECUTED and approval.decided_by == people.bob
    assert approval.reason == "Checked the PO" and approval.decided_at is not None
    # AWS says accepted; the cache follows.
    handshake = billing_invitation.handshake
    described = orgsim.client(billing_invitation.source.org.management_account_id).describe_handshake(
        HandshakeId=handshake.handshake_id
    )
    assert described["Handshake"]["State"] == "ACCEPTED"
    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
    # The call the write path audited carries exactly the stored parameters, sent as bob.
    intent, ok = AuditEvent.objects.filter(action="handshake.accept").order_by("id")
    assert intent.outcome == "intent" and intent.params == approval.params and intent.actor_label == "bob"
    assert ok.outcome == "ok" and ok.aws_request_id
    # The trail: asked by april, approved by bob, executed by bob on april's behalf.
    assert _audit() == [
        ("approval.request", "ok", "april"),
        ("approval.approve", "ok", "bob"),
        ("approval.execute", "ok", "bob"),
    ]
    executed = AuditEvent.objects.get(action="approval.execute")
    assert executed.params["on_behalf_of"] == "april" and executed.params["approved_by"] == "bob"
    assert not InFlightAction.objects.exists()
    # A later approval is told plainly that it is too late, and sends nothing.
    response = people.client("carol").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 409 and "already approved by bob" in response.content.decode()
    assert calls_of(orgsim, "AcceptHandshake") == 1


def test_a_viewer_or_an_approver_without_the_checker_role_cannot_approve(
    orgsim: Any, billing_invitation: Invitation, people: People, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    rule_on(connection, "handshake.accept", checker_role=Role.ADMIN)
    approval = _ask_to_accept(billing_invitation, people)
    assert (
        people.client("bob").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"}).status_code
        == 403
    )
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    client = Client()
    client.force_login(admin)
    assert client.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"}).status_code == 302
    assert calls_of(orgsim, "AcceptHandshake") == 1


def test_rejecting_needs_a_reason_and_sends_nothing(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    bob = people.client("bob")
    url = reverse("approval_reject", args=[approval.pk])
    assert bob.post(url, {"confirmed": "on", "reason": "  "}).status_code == 422
    assert bob.post(url, {"confirmed": "on", "reason": "Not budgeted"}).status_code == 302
    approval.refresh_from_db()
    assert approval.state == State.REJECTED and approval.reason == "Not budgeted"
    assert calls_of(orgsim, "AcceptHandshake") == 0
    assert _audit()[-1] == ("approval.reject", "ok", "bob")


def test_the_requester_withdraws_and_a_late_approval_is_told_so(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    # Nobody but the requester withdraws.
    assert (
        people.client("bob").post(reverse("approval_withdraw", args=[approval.pk]), {"confirmed": "on"}).status_code
        == 403
    )
    response = people.client("april").post(reverse("approval_withdraw", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 302
    response = people.client("bob").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 409
    assert "Too late: april withdrew this request" in response.content.decode()
    approval.refresh_from_db()
    assert approval.state == State.WITHDRAWN and calls_of(orgsim, "AcceptHandshake") == 0
    assert _audit()[-1] == ("approval.withdraw", "ok", "april")


def test_a_request_on_an_invitation_that_expires_in_aws_lapses_and_sends_nothing(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    orgsim.advance(16 * 86400)  # past the invitation's 15 days in AWS; the portal's cache still says open

    response = people.client("bob").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "This request lapsed" in page and "expired" in page and "Nothing was sent" in page
    assert calls_of(orgsim, "AcceptHandshake") == 0
    approval.refresh_from_db()
    assert approval.state == State.LAPSED and "expired" in approval.outcome
    assert [a for a, _, _ in _audit()] == ["approval.request", "approval.approve", "approval.lapse"]
    # The request's page says why.
    detail = people.client("april").get(reverse("approval_detail", args=[approval.pk])).content.decode()
    assert "Lapsed" in detail and "expired" in detail


def test_the_beat_task_lapses_a_request_whose_invitation_expired_and_sends_nothing(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    assert lapse_requests() == 0  # still open in AWS
    orgsim.advance(16 * 86400)
    assert lapse_requests() == 1
    approval.refresh_from_db()
    assert approval.state == State.LAPSED and "expired" in approval.outcome
    assert calls_of(orgsim, "AcceptHandshake") == 0
    assert _audit()[-1] == ("approval.lapse", "ok", "system")


def test_a_request_past_its_answer_by_moment_lapses_when_opened(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    ApprovalRequest.objects.filter(pk=approval.pk).update(answer_by=timezone.now() - timedelta(minutes=1))
    page = people.client("bob").get(reverse("approval_detail", args=[approval.pk])).content.decode()
    approval.refresh_from_db()
    assert approval.state == State.LAPSED and "answer-by moment" in approval.outcome
    assert "answer-by moment" in page
    assert calls_of(orgsim, "AcceptHandshake") == 0


def test_turning_the_rule_off_needs_a_second_admin(orgsim: Any, billing_invitation: Invitation, make_user: Any) -> None:
    connection = billing_invitation.source.connection
    rule = rule_on(connection, "handshake.accept")
    alice = Client()
    alice.force_login(make_user("alice", roles=[Role.ADMIN], connection=connection))
    dave = Client()
    dave.force_login(make_user("dave", roles=[Role.ADMIN], connection=connection))
    url = reverse("approval_rule", args=[connection.pk])

    # alice turns it off: that is a request, and the rule stays on.
    response = alice.post(url, {"checker_role": "approver", "confirmed": "on"})
    assert response.status_code == 302
    approval = ApprovalRequest.objects.get(action="approvals.rule")
    assert approval.checker_role == Role.ADMIN and approval.params == {"actions": [], "checker_role": "approver"}
    rule.refresh_from_db()
    assert rule.actions == ["handshake.accept"]
    # alice cannot approve it herself.
    assert alice.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"}).status_code == 403
    rule.refresh_from_db()
    assert rule.is_on
    # dave, a second admin, approves: the rule is off, audited with before and after.
    assert dave.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"}).status_code == 302
    rule.refresh_from_db()
    assert not rule.is_on
    change = AuditEvent.objects.get(action="approval_rule.change")
    assert change.actor_label == "dave"
    assert change.params["before"]["actions"] == ["handshake.accept"] and change.params["after"]["actions"] == []
    # Now an accept goes straight to AWS.
    approver = Client()
    approver.force_login(make_user("april", roles=[Role.APPROVER], connection=connection))
    assert approver.post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT).status_code == 302
    assert calls_of(orgsim, "AcceptHandshake") == 1


def test_one_admin_turns_the_rule_on_or_tightens_it_at_once_audited(
    billing_invitation: Invitation, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    alice = Client()
    alice.force_login(make_user("alice", roles=[Role.ADMIN], connection=connection))
    url = reverse("approval_rule", args=[connection.pk])
    review = alice.post(url, {"actions": ["handshake.accept"], "checker_role": "approver"})
    assert review.status_code == 200 and "nothing is sent to AWS" in review.content.decode()
    assert (
        alice.post(url, {"actions": ["handshake.accept"], "checker_role": "approver", "confirmed": "on"}).status_code
        == 302
    )
    assert (
        alice.post(
            url, {"actions": ["handshake.accept", "handshake.decline"], "checker_role": "approver", "confirmed": "on"}
        ).status_code
        == 302
    )
    rule = ApprovalRule.objects.get(connection=connection)
    assert rule.actions == ["handshake.accept", "handshake.decline"]
    assert not ApprovalRequest.objects.exists()
    assert AuditEvent.objects.filter(action="approval_rule.change", actor_label="alice").count() == 2


def test_terminate_is_held_and_the_approval_sends_the_requested_end(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    payer = billing_invitation.payer
    orgsim.client(billing_invitation.source.org.management_account_id).accept_handshake(
        HandshakeId=billing_invitation.handshake.handshake_id
    )
    payer.sync()
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.can_terminate()
    rule_on(payer.connection, "transfer.terminate", checker_role=Role.ADMIN)
    alice, dave = Client(), Client()
    alice.force_login(make_user("alice", roles=[Role.ADMIN], connection=payer.connection))
    dave.force_login(make_user("dave", roles=[Role.ADMIN], connection=payer.connection))
    end = end_choices()[1]
    orgsim.reset_calls()
    response = alice.post(
        reverse("transfer_terminate", args=[transfer.pk]),
        {"end": _choice_value(end), "confirmed": "on", "confirm_name": transfer.name or transfer.transfer_id},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    approval = ApprovalRequest.objects.get()
    assert approval.params == {"Id": transfer.transfer_id, "EndTimestamp": end.isoformat()}
    assert calls_of(orgsim, "TerminateResponsibilityTransfer") == 0

    assert dave.post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"}).status_code == 302
    assert calls_of(orgsim, "TerminateResponsibilityTransfer") == 1
    described = payer.org.client.describe_responsibility_transfer(Id=transfer.transfer_id)["ResponsibilityTransfer"]
    assert described["Status"] == "WITHDRAWN" and described["EndTimestamp"] == end
    approval.refresh_from_db()
    assert approval.state == State.EXECUTED


def test_inbox_shows_a_request_to_those_who_may_approve_it(
    orgsim: Any, billing_invitation: Invitation, people: People, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    rule_on(connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    approve_url = reverse("approval_approve", args=[approval.pk])

    bob_inbox = people.client("bob").get(reverse("inbox")).content.decode()
    assert "Waiting for a second person" in bob_inbox and approve_url in bob_inbox
    april_inbox = people.client("april").get(reverse("inbox")).content.decode()
    assert approve_url not in april_inbox and reverse("approval_withdraw", args=[approval.pk]) in april_inbox
    viewer = Client()
    viewer.force_login(make_user("victor", roles=[Role.VIEWER], connection=connection))
    assert approve_url not in viewer.get(reverse("inbox")).content.decode()
    outsider = Client()
    outsider.force_login(make_user("mallory"))
    assert outsider.get(reverse("approval_detail", args=[approval.pk])).status_code == 404


def test_the_audit_export_carries_the_request_and_its_decision(
    orgsim: Any, billing_invitation: Invitation, people: People, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    rule_on(connection, "handshake.accept")
    approval = _ask_to_accept(billing_invitation, people)
    people.client("bob").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    auditor = Client()
    auditor.force_login(make_user("audrey", roles=[Role.AUDITOR], connection=connection))
    response = auditor.get(reverse("audit:export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    for action in ("approval.request", "approval.approve", "approval.execute", "handshake.accept"):
        assert action in text
    assert Handshake.objects.get(pk=billing_invitation.handshake.pk).state == "ACCEPTED"
