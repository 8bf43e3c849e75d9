"""One action in flight per resource, held by the database: twenty concurrent accepts of one
handshake (twenty threads, each with its own database connection) make exactly one AWS call,
counted by orgsim. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection as db_connection

from audit.models import AuditEvent
from handshakes.models import Handshake
from handshakes.services import handshake_accept
from orgportal.models import InFlightAction, Role
from orgportal.writepath import ActionFailed, ActionRefused
from tests.actions.conftest import Invitation, calls_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_concurrent_accepts_make_exactly_one_aws_call(
    orgsim: Any, billing_invitation: Invitation, make_user: Any
) -> None:
    approver = make_user("april", roles=[Role.APPROVER], connection=billing_invitation.source.connection)
    orgsim.set_faults(operation="AcceptHandshake", latency_ms=150)  # keep the first call in flight a while
    pk = billing_invitation.handshake.pk
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def click() -> None:
        try:
            handshake = Handshake.objects.select_related("connection").get(pk=pk)
            start.wait()
            try:
                handshake_accept(handshake=handshake, actor=approver)
                result = "accepted"
            except ActionRefused as refusal:
                result = type(refusal).__name__
            except ActionFailed as failure:
                result = failure.code
            with lock:
                outcomes.append(result)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=click) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert calls_of(orgsim, "AcceptHandshake") == 1
    assert outcomes.count("accepted") == 1 and len(outcomes) == 20, outcomes
    assert set(outcomes) <= {"accepted", "ActionInFlight", "ActionRefused"}
    assert Handshake.objects.get(pk=pk).state == "ACCEPTED"
    assert AuditEvent.objects.filter(action="handshake.accept", outcome="ok").count() == 1
    assert not InFlightAction.objects.exists()
