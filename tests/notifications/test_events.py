"""Events, each once: from the sync's and the actions' change rows (the outbox) and from the
clock (orgsim's, moved across each reminder threshold), fanned out to who wants them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handshakes.selectors import deadline_of
from notifications.models import ChangeCursor, ConnectionSettings, Delivery, Event, EventKind, Subscription
from notifications.outbox import process_connection, remind
from orgportal.models import Role, SyncRun
from orgportal.sync import sync_connection
from tests.actions.conftest import Invitation
from tests.notifications.conftest import sim_time
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db


def kinds(connection: Any) -> list[str]:
    return sorted(Event.objects.filter(connection=connection).values_list("kind", flat=True))


def test_a_received_billing_invitation_is_one_event_emailed_to_its_approver_only(
    invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    approver = make_user("april", roles=[Role.APPROVER], connection=connection)
    make_user("victor", roles=[Role.VIEWER], connection=connection)
    make_user("audrey", roles=[Role.AUDITOR], connection=connection)

    outcome = process_connection(connection)

    event = Event.objects.get(connection=connection, kind=EventKind.INVITATION_RECEIVED)
    assert event.key == f"invitation.received:{connection.pk}:{invitation.handshake.handshake_id}"
    assert event.priority == 0  # billing transfers first
    assert event.due_at == deadline_of(invitation.handshake)
    assert "Billing transfer" in event.title and "answer by" in event.body
    assert outcome.events == 1 and outcome.deliveries == 1
    delivery = Delivery.objects.get(event=event)
    assert (delivery.recipient, delivery.medium, delivery.state) == (approver, "email", "pending")
    # The sender's side hears nothing about its own sent invitation.
    assert process_connection(invitation.payer.connection).events == 0


def test_a_sync_rerun_and_a_reread_outbox_create_no_second_event(invitation: Invitation, make_user: Any) -> None:
    connection = invitation.source.connection
    make_user("alice", roles=[Role.ADMIN], connection=connection)
    first = process_connection(connection)
    assert first.events == 1

    invitation.source.sync()  # nothing changed in AWS: no change rows
    assert process_connection(connection).events == 0
    # Even when every change row is read again (a lost cursor, a crash before it moved), the
    # event keys are taken: nothing new.
    ChangeCursor.objects.filter(connection=connection).update(last_id=0)
    again = process_connection(connection)
    assert again.changes > 0 and again.events == 0 and again.deliveries == 0
    assert Event.objects.filter(connection=connection).count() == 1
    assert Delivery.objects.filter(connection=connection).count() == 1


def test_the_cursor_stops_short_of_the_last_minutes_so_a_late_commit_is_not_skipped(
    invitation: Invitation,
) -> None:
    connection = invitation.source.connection
    process_connection(connection)
    # The changes are seconds old: the cursor stays before them (they are read again, harmlessly).
    assert ChangeCursor.objects.get(connection=connection, source="handshake").last_id == 0
    later = timezone.now() + timedelta(minutes=5)
    process_connection(connection, now=later)
    assert ChangeCursor.objects.get(connection=connection, source="handshake").last_id > 0


def test_each_reminder_threshold_notifies_exactly_once_as_orgsim_time_passes(
    orgsim: Any, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    make_user("april", roles=[Role.APPROVER], connection=connection)
    process_connection(connection)
    deadline = deadline_of(invitation.handshake)
    assert deadline is not None and deadline - sim_time(orgsim) > timedelta(days=7)

    def reminders() -> list[int]:
        return sorted(
            e.data["threshold_seconds"]
            for e in Event.objects.filter(connection=connection, kind=EventKind.INVITATION_DEADLINE)
        )

    assert remind(connection, now=sim_time(orgsim)).events == 0
    for threshold in (7 * 86400, 48 * 3600, 24 * 3600):
        # Just before the threshold: nothing; just after it: one reminder; again: nothing more.
        orgsim.advance((deadline - sim_time(orgsim)).total_seconds() - threshold - 60)
        invitation.source.sync()
        assert remind(connection, now=sim_time(orgsim)).events == 0
        orgsim.advance(120)
        invitation.source.sync()
        assert remind(connection, now=sim_time(orgsim)).events == 1
        assert remind(connection, now=sim_time(orgsim)).events == 0
        process_connection(connection)
    assert reminders() == [24 * 3600, 48 * 3600, 7 * 86400]
    deliveries = Delivery.objects.filter(event__kind=EventKind.INVITATION_DEADLINE)
    assert deliveries.count() == 3 and {d.medium for d in deliveries} == {"email"}

    # Past the deadline orgsim expires the invitation; the sync sees it; one "expired" event.
    orgsim.advance((deadline - sim_time(orgsim)).total_seconds() + 60)
    invitation.source.sync()
    assert remind(connection, now=sim_time(orgsim)).events == 0
    assert process_connection(connection).events == 1
    assert EventKind.INVITATION_EXPIRED in kinds(connection)
    assert reminders() == [24 * 3600, 48 * 3600, 7 * 86400]


def test_a_jump_across_several_thresholds_sends_only_the_tightest(
    orgsim: Any, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    deadline = deadline_of(invitation.handshake)
    assert deadline is not None
    orgsim.advance((deadline - sim_time(orgsim)).total_seconds() - 20 * 3600)  # 20 hours left
    invitation.source.sync()
    remind(connection, now=sim_time(orgsim))
    remind(connection, now=sim_time(orgsim))
    events = Event.objects.filter(kind=EventKind.INVITATION_DEADLINE)
    assert [e.data["threshold_seconds"] for e in events] == [24 * 3600]


def test_thresholds_are_configurable_per_connection(orgsim: Any, invitation: Invitation) -> None:
    connection = invitation.source.connection
    ConnectionSettings.objects.create(connection=connection, reminder_seconds=[3 * 86400])
    deadline = deadline_of(invitation.handshake)
    assert deadline is not None
    orgsim.advance((deadline - sim_time(orgsim)).total_seconds() - 5 * 86400)
    assert remind(connection, now=sim_time(orgsim)).events == 0  # 7 days is not one of its thresholds
    orgsim.advance(2 * 86400 + 60)
    assert remind(connection, now=sim_time(orgsim)).events == 1


def test_an_accepted_invitation_and_the_transfer_starting_are_told_to_the_payer(
    orgsim: Any, invitation: Invitation, make_user: Any
) -> None:
    payer = invitation.payer
    make_user("alice", roles=[Role.ADMIN], connection=payer.connection)
    process_connection(payer.connection)
    invitation.source.org.client.accept_handshake(HandshakeId=invitation.handshake.handshake_id)
    payer.sync()
    process_connection(payer.connection)
    assert EventKind.INVITATION_ACCEPTED in kinds(payer.connection)

    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.start_at is not None
    orgsim.advance((transfer.start_at - sim_time(orgsim)).total_seconds() + 3600)
    payer.sync()
    assert remind(payer.connection, now=sim_time(orgsim)).events >= 1
    assert EventKind.TRANSFER_STARTED in kinds(payer.connection)
    assert remind(payer.connection, now=sim_time(orgsim)).events == 0


def test_a_withdrawn_transfer_says_its_end_date_and_then_that_it_ends_this_month(
    orgsim: Any, invitation: Invitation, make_user: Any
) -> None:
    payer = invitation.payer
    make_user("alice", roles=[Role.ADMIN], connection=payer.connection)
    invitation.source.org.client.accept_handshake(HandshakeId=invitation.handshake.handshake_id)
    payer.sync()
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.start_at is not None
    orgsim.advance((transfer.start_at - sim_time(orgsim)).total_seconds() + 86400)
    payer.sync()
    process_connection(payer.connection)
    payer.org.client.terminate_responsibility_transfer(Id=transfer.transfer_id)
    payer.sync()
    process_connection(payer.connection)
    withdrawn = Event.objects.get(connection=payer.connection, kind=EventKind.TRANSFER_WITHDRAWN)
    transfer.refresh_from_db()
    assert transfer.end_at is not None and withdrawn.due_at == transfer.end_at
    assert f"{transfer.end_at:%Y-%m-%d}" in withdrawn.body
    remind(payer.connection, now=sim_time(orgsim))
    assert EventKind.TRANSFER_ENDING in kinds(payer.connection)
    assert remind(payer.connection, now=sim_time(orgsim)).events == 0


def test_a_sync_failing_longer_than_the_threshold_is_told_once_and_so_is_its_recovery(
    orgsim: Any, sim_connection: Any, make_user: Any, settings: Any
) -> None:
    from orgportal import aws

    make_user("alice", roles=[Role.ADMIN], connection=sim_connection)
    settings.AWS_MAX_ATTEMPTS = 1
    aws.forget_clients()
    assert sync_connection(sim_connection).status == "ok"
    orgsim.set_faults(operation="DescribeOrganization", error_rate=1.0)
    assert sync_connection(sim_connection).status == "failed"
    assert remind(sim_connection).events == 0  # failing for seconds only
    # The last good sync was 40 minutes ago, the failing streak began 31 minutes ago (the default
    # threshold is 30).
    SyncRun.objects.filter(status="ok").update(started_at=timezone.now() - timedelta(minutes=40))
    SyncRun.objects.filter(status="failed").update(started_at=timezone.now() - timedelta(minutes=31))
    assert sync_connection(sim_connection).status == "failed"
    assert remind(sim_connection).events == 1
    assert remind(sim_connection).events == 0
    orgsim.clear_faults()
    assert sync_connection(sim_connection).status == "ok"
    assert remind(sim_connection).events == 1
    assert remind(sim_connection).events == 0
    assert kinds(sim_connection) == [EventKind.SYNC_FAILING, EventKind.SYNC_RECOVERED]
    failing = Delivery.objects.get(event__kind=EventKind.SYNC_FAILING)
    assert failing.priority == 1


def test_role_defaults_subscriptions_and_the_digest(invitation: Invitation, make_user: Any) -> None:
    connection = invitation.source.connection
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    approver = make_user("april", roles=[Role.APPROVER], connection=connection)
    auditor = make_user("audrey", roles=[Role.AUDITOR], connection=connection)
    viewer = make_user("victor", roles=[Role.VIEWER], connection=connection)
    # The auditor opts in, with the digest; the approver opts out of everything.
    Subscription.objects.create(
        user=auditor, connection=connection, events=[EventKind.INVITATION_RECEIVED], channels=["email"], digest=True
    )
    Subscription.objects.create(user=approver, connection=connection, events=[], channels=["email"])
    process_connection(connection)
    rows = {d.recipient: d.state for d in Delivery.objects.filter(connection=connection)}
    assert rows == {admin: "pending", auditor: "digest"}
    assert viewer not in rows
