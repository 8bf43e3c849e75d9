"""`orgportal.bulk.insert`: COPY on PostgreSQL, bulk_create elsewhere; the rows read back the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from handshakes.models import Handshake, HandshakeChange
from orgportal import bulk

pytestmark = pytest.mark.django_db

AWKWARD = 'tab\there, newline\nthere, back\\slash, "quotes", comma, ; émoji 🎉, \\N'


def _handshakes(connection: Any, prefix: str) -> list[Handshake]:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        Handshake(
            connection=connection,
            handshake_id=f"h-{prefix}{n:06d}",
            action="TRANSFER_RESPONSIBILITY",
            state="OPEN",
            requested_at=when if n % 2 else None,
            expires_at=when,
            parties=[{"Id": "111111111111", "Type": "ACCOUNT"}, {"Note": AWKWARD}],
            resources=[] if n % 3 else [{"Type": "NOTES", "Value": AWKWARD, "Resources": [{"n": n}]}],
            counterparty=AWKWARD if n == 0 else "",
            fingerprint=f"{n:064d}",
            first_seen_at=when,
            changed_at=when,
        )
        for n in range(7)
    ]


def _stored(prefix: str) -> list[tuple[Any, ...]]:
    fields = [f.attname for f in Handshake._meta.concrete_fields if f.attname not in ("id", "handshake_id")]
    return list(
        Handshake.objects.filter(handshake_id__startswith=f"h-{prefix}").order_by("handshake_id").values_list(*fields)
    )


def test_insert_stores_what_bulk_create_stores_and_sets_the_ids(connection: Any) -> None:
    Handshake.objects.bulk_create(_handshakes(connection, "a"))
    objs = _handshakes(connection, "b")
    with transaction.atomic(), CaptureQueriesContext(db_connection) as queries:
        bulk.insert(objs, ids_by="handshake_id", scope={"connection": connection})

    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    # PostgreSQL: COPY (which Django's query log does not see); elsewhere one statement run for
    # every row by the driver. Then one id lookup.
    if db_connection.vendor == "postgresql":
        assert inserts == []
    else:
        assert len(inserts) == 1 and inserts[0].startswith(f"{len(objs)} times: INSERT")
    assert len(queries.captured_queries) == len(inserts) + 1
    assert _stored("b") == _stored("a")
    assert all(obj.pk is not None and not obj._state.adding for obj in objs)
    assert {obj.pk: obj.handshake_id for obj in objs} == dict(
        Handshake.objects.filter(handshake_id__startswith="h-b").values_list("pk", "handshake_id")
    )
    assert Handshake.objects.get(handshake_id="h-b000000").counterparty == AWKWARD


def test_rows_that_point_at_each_other_go_in_after_their_parents(connection: Any) -> None:
    parents = _handshakes(connection, "c")
    with transaction.atomic():
        bulk.insert(parents, ids_by="handshake_id", scope={"connection": connection})
        bulk.insert(
            [
                HandshakeChange(
                    handshake_id=parent.pk,
                    connection=connection,
                    observed_at=parent.changed_at,
                    kind="created",
                    changes={"x": AWKWARD},
                )
                for parent in parents
            ]
        )
    assert HandshakeChange.objects.filter(handshake__in=parents, changes={"x": AWKWARD}).count() == len(parents)


def test_nothing_to_insert_is_no_statement(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        bulk.insert([])


def test_a_failed_insert_leaves_nothing_behind(connection: Any) -> None:
    objs = _handshakes(connection, "d")
    objs[-1].handshake_id = objs[0].handshake_id  # breaks the unique constraint
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(objs)
    assert not Handshake.objects.filter(handshake_id__startswith="h-d").exists()
