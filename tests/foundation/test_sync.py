"""The read path against orgsim over HTTP: what a sync stores, remembers, skips and survives."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from handshakes.models import Direction as HandshakeDirection
from handshakes.models import Handshake, HandshakeChange
from orgportal import aws
from orgportal.management.commands.demo_setup import orgsim_organizations
from orgportal.models import Account, AwsConnection, SyncRun
from orgportal.sync import claim, sync_connection
from tests.conftest import SimOrg, create_org
from transfers.models import Direction as TransferDirection
from transfers.models import ResponsibilityTransfer, TransferChange

SOURCE_ACCOUNT_ID = "333333333333"


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    # Clients are cached per process; settings overrides below must reach new ones.
    aws.forget_clients()


@pytest.fixture
def one_attempt(settings: Any) -> None:
    """No retries, botocore's or the sync's: a failure fails at once (keeps fault tests fast)."""
    settings.AWS_MAX_ATTEMPTS = 1
    settings.SYNC_RETRY_ROUNDS = 0


def start_of_month_after_next(now: datetime) -> datetime:
    index = now.year * 12 + now.month - 1 + 2
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def sim_now(sim: Any) -> datetime:
    summary = sim.summary()
    now = summary.get("now") or summary.get("clock")
    if isinstance(now, (int, float)):
        return datetime.fromtimestamp(now, UTC)
    return datetime.now(UTC)


def invite_to_pay(payer: SimOrg, source: SimOrg) -> str:
    """payer invites source's organization to let payer pay its bill; the handshake id."""
    response = payer.client.invite_organization_to_transfer_responsibility(
        Type="BILLING",
        Target={"Id": source.management_account_id, "Type": "ACCOUNT"},
        SourceName="Source Org Ltd",
        StartTimestamp=start_of_month_after_next(sim_now(payer.sim)),
    )
    return response["Handshake"]["Id"]


def writes(queries: CaptureQueriesContext) -> list[str]:
    """INSERT/UPDATE/DELETE statements, apart from the sync run and the connection's own status."""
    statements = [q["sql"] for q in queries.captured_queries]
    return [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "orgportal_syncrun" not in sql
        and "orgportal_awsconnection" not in sql
    ]


def test_sync_of_a_new_organization_stores_its_identity_and_accounts(
    sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    member = sim_org.add_member()
    run = sync_connection(sim_connection)
    assert run is not None and run.status == SyncRun.Status.OK, run and run.error
    sim_connection.refresh_from_db()
    assert sim_connection.organization_id == sim_org.organization_id
    assert sim_connection.management_account_id == sim_org.management_account_id
    assert sim_connection.feature_set == "ALL"
    assert sim_connection.last_sync_ok is True and sim_connection.last_synced_at is not None
    assert sim_connection.sync_claimed_at is None
    assert set(Account.objects.filter(connection=sim_connection).values_list("account_id", flat=True)) == {
        sim_org.management_account_id,
        member,
    }
    # The invitation the member accepted is listed for the organization.
    handshake = Handshake.objects.get(connection=sim_connection)
    assert handshake.action == "INVITE" and handshake.state == "ACCEPTED"
    assert handshake.direction == HandshakeDirection.SENT and handshake.counterparty == member
    assert run.calls >= 6 and run.pages >= 5 and run.created >= 3
    assert AuditEvent.objects.filter(actor_label="AWS", action="account.created").count() == 2


def test_sync_of_the_demo_scenario_fills_every_list(
    orgsim_demo: Any, make_connection: Callable[..., AwsConnection]
) -> None:
    organizations = orgsim_organizations(orgsim_demo.endpoint)
    assert organizations, "the demo scenario has organizations"
    connections = [
        make_connection(account_id=org["management_account_id"], endpoint_url=orgsim_demo.endpoint)
        for org in organizations
    ]
    for connection in connections:
        run = sync_connection(connection)
        assert run is not None and run.status == SyncRun.Status.OK, run and run.error
    assert ResponsibilityTransfer.objects.filter(direction=TransferDirection.INBOUND).exists()
    assert ResponsibilityTransfer.objects.filter(direction=TransferDirection.OUTBOUND).exists()
    transfer_handshakes = Handshake.objects.filter(action="TRANSFER_RESPONSIBILITY")
    assert transfer_handshakes.exclude(transfer_id="").exists()
    assert transfer_handshakes.filter(direction=HandshakeDirection.RECEIVED).exists()


def test_a_transfer_accepted_in_aws_shows_up_as_a_change_with_from_and_to(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    source = create_org(orgsim, SOURCE_ACCOUNT_ID)
    handshake_id = invite_to_pay(sim_org, source)
    first = sync_connection(sim_connection)
    assert first is not None and first.status == "ok", first and first.error
    transfer = ResponsibilityTransfer.objects.get(connection=sim_connection)
    assert transfer.direction == TransferDirection.INBOUND and transfer.status == "REQUESTED"
    assert transfer.source_account_id == SOURCE_ACCOUNT_ID
    handshake = Handshake.objects.get(connection=sim_connection, handshake_id=handshake_id)
    assert handshake.transfer_id == transfer.transfer_id and handshake.direction == HandshakeDirection.SENT
    assert handshake.transfer_start_at == transfer.start_at

    source.client.accept_handshake(HandshakeId=handshake_id)
    second = sync_connection(sim_connection)
    assert second is not None and second.status == "ok" and second.changed >= 2

    transfer.refresh_from_db()
    assert transfer.status == "ACCEPTED"
    change = TransferChange.objects.get(transfer=transfer, kind="changed")
    assert change.changes["status"] == ["REQUESTED", "ACCEPTED"]
    assert change.sync_run_id == second.pk
    handshake_change = HandshakeChange.objects.get(handshake=handshake, kind="changed")
    assert handshake_change.changes["state"][1] == "ACCEPTED"
    event = AuditEvent.objects.get(action="transfer.changed", resource=f"transfer/{transfer.transfer_id}")
    assert event.actor_label == "AWS" and event.params["changes"]["status"] == ["REQUESTED", "ACCEPTED"]


def test_a_handshake_aws_forgets_after_30_days_is_kept_and_marked_vanished(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    source = create_org(orgsim, SOURCE_ACCOUNT_ID)
    handshake_id = invite_to_pay(sim_org, source)
    source.client.decline_handshake(HandshakeId=handshake_id)
    sync_connection(sim_connection)
    handshake = Handshake.objects.get(handshake_id=handshake_id)
    assert handshake.state == "DECLINED" and handshake.vanished_at is None

    orgsim.advance(31 * 24 * 3600)
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok" and run.vanished >= 1
    handshake.refresh_from_db()
    assert handshake.vanished_at is not None
    assert HandshakeChange.objects.filter(handshake=handshake, kind="vanished").count() == 1
    # The declined transfer itself is still listed by AWS and stays as it was.
    assert ResponsibilityTransfer.objects.get(connection=sim_connection).vanished_at is None

    again = sync_connection(sim_connection)
    assert again is not None and again.vanished == 0
    assert HandshakeChange.objects.filter(handshake=handshake, kind="vanished").count() == 1


def test_empty_pages_with_a_next_token_do_not_end_the_list(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    members = [sim_org.add_member() for _ in range(3)]
    orgsim.set_faults(empty_pages=1.0)
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok", run and run.error
    stored = set(Account.objects.filter(connection=sim_connection).values_list("account_id", flat=True))
    assert stored == {sim_org.management_account_id, *members}
    # Every list answered with at least one empty page before its items.
    assert run.pages >= 2 * 5


def test_throttled_calls_are_retried_and_counted(orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection) -> None:
    sim_org.add_member()
    orgsim.set_faults(operation="ListAccounts", throttle=0.5)
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok", run and run.error
    assert run.throttles >= 1 and run.retries >= 1
    assert Account.objects.filter(connection=sim_connection).count() == 2


def test_a_sync_cut_off_midway_keeps_consistent_data_and_a_rerun_completes_it(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection, one_attempt: None
) -> None:
    source = create_org(orgsim, SOURCE_ACCOUNT_ID)
    invite_to_pay(sim_org, source)
    orgsim.set_faults(operation="ListInboundResponsibilityTransfers", error_rate=1.0)
    failed = sync_connection(sim_connection)
    assert failed is not None and failed.status == SyncRun.Status.FAILED
    assert "temporary problem" in failed.error or "internal problem" in failed.error
    sim_connection.refresh_from_db()
    assert sim_connection.last_sync_ok is False and sim_connection.last_sync_error
    assert sim_connection.sync_claimed_at is None  # the claim is released after a failure
    # What was read before the failure is stored whole; nothing was marked vanished.
    assert Handshake.objects.filter(connection=sim_connection).count() == 1
    assert not ResponsibilityTransfer.objects.exists()
    assert not Handshake.objects.filter(vanished_at__isnull=False).exists()

    orgsim.clear_faults()
    done = sync_connection(sim_connection)
    assert done is not None and done.status == "ok", done and done.error
    assert ResponsibilityTransfer.objects.filter(connection=sim_connection).count() == 1
    assert done.unchanged >= 1  # the handshake stored by the failed run is not written again
    sim_connection.refresh_from_db()
    assert sim_connection.last_sync_ok is True and sim_connection.last_sync_error == ""


def test_second_sync_with_nothing_changed_writes_nothing(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    source = create_org(orgsim, SOURCE_ACCOUNT_ID)
    invite_to_pay(sim_org, source)
    sim_org.add_member()
    first = sync_connection(sim_connection)
    assert first is not None and first.status == "ok" and first.created >= 4
    audit_rows = AuditEvent.objects.count()
    with CaptureQueriesContext(db_connection) as queries:
        second = sync_connection(sim_connection)
    assert second is not None and second.status == "ok"
    assert second.created == second.changed == second.vanished == 0
    assert second.unchanged == first.created
    assert writes(queries) == []
    assert AuditEvent.objects.count() == audit_rows


def test_one_connection_never_syncs_twice_at_once(sim_connection: AwsConnection, orgsim: Any) -> None:
    assert claim(sim_connection) is not None
    orgsim.reset_calls()
    assert sync_connection(sim_connection) is None
    assert not SyncRun.objects.exists()
    assert orgsim.calls()["total"] == 0  # not one AWS call


def test_a_claim_left_by_a_dead_worker_expires(sim_connection: AwsConnection) -> None:
    AwsConnection.objects.filter(pk=sim_connection.pk).update(sync_claimed_at=datetime.now(UTC) - timedelta(hours=2))
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok", run and run.error


def test_wrong_credentials_fail_in_plain_words(orgsim: Any, make_connection: Callable[..., AwsConnection]) -> None:
    standalone = make_connection(account_id="444444444444", endpoint_url=orgsim.endpoint)
    run = sync_connection(standalone)
    assert run is not None and run.status == "failed"
    assert "not a member of an organization" in run.error
    assert isinstance(run.aws_error, aws.AwsError) and run.aws_error.code == "AWSOrganizationsNotInUseException"


def test_every_list_is_paged_with_twenty_items_per_call(
    orgsim: Any, sim_org: SimOrg, sim_connection: AwsConnection
) -> None:
    for _ in range(41):
        sim_org.add_member()
    with aws.recording() as stats:
        accounts = list(aws.paginate(sim_connection, "ListAccounts", "Accounts"))
    assert len(accounts) == 42
    assert stats.pages_by_operation["ListAccounts"] == math.ceil(42 / 20)
