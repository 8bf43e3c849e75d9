"""Decisions race safely, held by a conditional UPDATE in the database: ten approvers at once make
exactly one AWS call (counted by orgsim) and the nine others are told it was already approved; an
approval and the requester's withdrawal at once: exactly one wins, the other is told plainly.
Threads with their own database connections, like tests/actions/test_one_in_flight.py; runs on
SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection as db_connection

from approvals.models import ApprovalRequest, State
from approvals.services import request_approve, request_withdraw
from audit.models import AuditEvent
from handshakes.models import Handshake
from handshakes.services import handshake_accept
from orgportal.models import InFlightAction, Role
from orgportal.writepath import ActionFailed, ActionHeld, ActionRefused
from tests.actions.conftest import Invitation, calls_of
from tests.approvals.conftest import rule_on

pytestmark = pytest.mark.django_db(transaction=True)


def _requested(invitation: Invitation, requester: Any) -> ApprovalRequest:
    rule_on(invitation.source.connection, "handshake.accept")
    handshake = Handshake.objects.select_related("connection").get(pk=invitation.handshake.pk)
    with pytest.raises(ActionHeld):
        handshake_accept(handshake=handshake, actor=requester)
    return ApprovalRequest.objects.get()


def _race(jobs: list[Callable[[], str]]) -> list[str]:
    """Run `jobs` at the same instant, each in its own thread and database connection."""
    start = threading.Barrier(len(jobs))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(job: Callable[[], str]) -> None:
        try:
            start.wait()
            try:
                result = job()
            except ActionRefused as refusal:
                result = refusal.message
            except ActionFailed as failure:
                result = failure.code
            with lock:
                outcomes.append(result)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_ten_concurrent_approvals_make_exactly_one_aws_call(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    april = make_user("april", roles=[Role.APPROVER], connection=connection)
    approvers = [make_user(f"checker{n}", roles=[Role.APPROVER], connection=connection) for n in range(10)]
    approval = _requested(billing_invitation, april)
    orgsim.set_faults(operation="AcceptHandshake", latency_ms=150)  # keep the winner's call in flight a while

    def approve_as(user: Any) -> Callable[[], str]:
        def job() -> str:
            fresh = ApprovalRequest.objects.select_related("connection").get(pk=approval.pk)
            request_approve(approval=fresh, actor=user)
            return "executed"

        return job

    outcomes = _race([approve_as(user) for user in approvers])

    assert calls_of(orgsim, "AcceptHandshake") == 1
    assert len(outcomes) == 10 and outcomes.count("executed") == 1, outcomes
    assert all(
        o.startswith("Too late: this request was already approved by checker") for o in outcomes if o != "executed"
    )
    approval.refresh_from_db()
    assert approval.state == State.EXECUTED
    assert Handshake.objects.get(pk=billing_invitation.handshake.pk).state == "ACCEPTED"
    assert AuditEvent.objects.filter(action="approval.approve", outcome="ok").count() == 1
    assert AuditEvent.objects.filter(action="handshake.accept", outcome="ok").count() == 1
    assert not InFlightAction.objects.exists()


def test_approve_and_withdraw_at_once_one_wins_and_the_other_is_told(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    connection = billing_invitation.source.connection
    april = make_user("april", roles=[Role.APPROVER], connection=connection)
    bob = make_user("bob", roles=[Role.APPROVER], connection=connection)
    approval = _requested(billing_invitation, april)

    def approve() -> str:
        fresh = ApprovalRequest.objects.select_related("connection").get(pk=approval.pk)
        request_approve(approval=fresh, actor=bob)
        return "approved"

    def withdraw() -> str:
        fresh = ApprovalRequest.objects.select_related("connection").get(pk=approval.pk)
        request_withdraw(approval=fresh, actor=april)
        return "withdrawn"

    outcomes = _race([approve, withdraw])

    approval.refresh_from_db()
    assert len(outcomes) == 2
    if approval.state == State.WITHDRAWN:
        assert sorted(outcomes)[1] == "withdrawn" and "april withdrew this request" in sorted(outcomes)[0]
        assert calls_of(orgsim, "AcceptHandshake") == 0
    else:
        assert approval.state == State.EXECUTED
        assert "approved" in outcomes
        assert any(o.startswith("Too late: this request was already approved by bob") for o in outcomes)
        assert calls_of(orgsim, "AcceptHandshake") == 1
    decided = AuditEvent.objects.filter(action__in=["approval.approve", "approval.withdraw"], outcome="ok")
    assert decided.count() == 1
