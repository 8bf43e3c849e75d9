"""Factories for the page tests: cached transfer, handshake and change rows written straight to
the database. Pages read only the database, so these tests need no AWS (one integration test in
test_synced_pages.py syncs from orgsim first)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from handshakes.models import Direction as HandshakeDirection
from handshakes.models import Handshake, HandshakeChange
from orgportal.models import Account, AwsConnection
from transfers.models import Direction as TransferDirection
from transfers.models import ResponsibilityTransfer, TransferChange

_seq = itertools.count(1)


def _hex(n: int, width: int) -> str:
    return f"{n:0{width}x}"


@pytest.fixture
def make_transfer(db: None) -> Callable[..., ResponsibilityTransfer]:
    def make(connection: AwsConnection, **fields: Any) -> ResponsibilityTransfer:
        n = next(_seq)
        now = timezone.now()
        values: dict[str, Any] = {
            "transfer_id": f"rt-{_hex(n, 8)}",
            "direction": TransferDirection.INBOUND,
            "name": f"Transfer {n}",
            "type": "BILLING",
            "status": "ACCEPTED",
            "source_account_id": f"{300000000000 + n}",
            "source_email": f"source{n}@example.com",
            "target_account_id": connection.management_account_id or "111111111111",
            "start_at": datetime(2025, 1 + n % 12, 1, tzinfo=now.tzinfo),
            "changed_at": now - timedelta(minutes=n),
        }
        values.update(fields)
        return ResponsibilityTransfer.objects.create(connection=connection, **values)

    return make


@pytest.fixture
def make_handshake(db: None) -> Callable[..., Handshake]:
    def make(connection: AwsConnection, **fields: Any) -> Handshake:
        n = next(_seq)
        now = timezone.now()
        values: dict[str, Any] = {
            "handshake_id": f"h-{_hex(n, 10)}",
            "action": "INVITE",
            "state": "OPEN",
            "direction": HandshakeDirection.RECEIVED,
            "counterparty": f"{400000000000 + n}",
            "requested_at": now - timedelta(days=1, minutes=n),
            "expires_at": now + timedelta(days=14, minutes=n),
            "parties": [
                {"Id": f"{400000000000 + n}", "Type": "ACCOUNT"},
                {"Id": connection.management_account_id or "111111111111", "Type": "ACCOUNT"},
            ],
            "resources": [],
        }
        values.update(fields)
        return Handshake.objects.create(connection=connection, **values)

    return make


@pytest.fixture
def make_account(db: None) -> Callable[..., Account]:
    def make(connection: AwsConnection, account_id: str, name: str, **fields: Any) -> Account:
        return Account.objects.create(
            connection=connection, account_id=account_id, name=name, email=f"{account_id}@example.com", **fields
        )

    return make


@pytest.fixture
def synced(connection: AwsConnection) -> AwsConnection:
    """`connection` as if a sync finished a minute ago."""
    connection.last_synced_at = timezone.now() - timedelta(minutes=1)
    connection.last_sync_ok = True
    connection.management_account_id = connection.account_id = "111111111111"
    connection.save()
    return connection


def transfer_change(
    transfer: ResponsibilityTransfer, kind: str, changes: dict[str, Any], **fields: Any
) -> TransferChange:
    return TransferChange.objects.create(
        transfer=transfer, connection_id=transfer.connection_id, kind=kind, changes=changes, **fields
    )


def handshake_change(handshake: Handshake, kind: str, changes: dict[str, Any], **fields: Any) -> HandshakeChange:
    return HandshakeChange.objects.create(
        handshake=handshake, connection_id=handshake.connection_id, kind=kind, changes=changes, **fields
    )
