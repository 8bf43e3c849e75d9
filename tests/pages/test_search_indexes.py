"""On PostgreSQL the lists' search (`icontains` over several columns: a LIKE '%q%' that no b-tree
serves) reads the trigram indexes of handshakes migration 0006 and transfers migration 0002. They
are built on the exact expressions Django compiles the lookups to; this checks they still are
(a Django upgrade that compiled them differently would silently bring back the table scan)."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection
from django.db.models import QuerySet

from handshakes.models import Handshake
from handshakes.selectors import filter_handshakes
from transfers.models import ResponsibilityTransfer
from transfers.selectors import filter_transfers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigram indexes exist on PostgreSQL only (the migrations do nothing elsewhere)")


def plan(queryset: QuerySet) -> str:  # type: ignore[type-arg]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # The test tables are empty, and on an empty table a scan of everything always looks
        # cheapest: the whole table, or a whole b-tree (such as the one-row-per-transfer index)
        # filtered row by row. Neither allowed, a search that matches the trigram indexes'
        # expressions is left with their bitmap scans, and one that does not with a Seq Scan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("q", ["4000000012", "h-00001", "RT-0000", "abc"])
def test_handshake_search_reads_the_trigram_indexes(q: str) -> None:
    indexes = import_module("handshakes.migrations.0006_search_trigram_indexes").INDEXES
    text = plan(filter_handshakes(Handshake.objects.order_by(), {"q": q}, []))
    assert "Seq Scan" not in text, text
    for name in indexes:
        assert f"Bitmap Index Scan on {name}" in text, text


@pytest.mark.parametrize("q", ["4000000012", "member 12", "rt-0000", "Example.COM"])
def test_transfer_search_reads_the_trigram_indexes(q: str) -> None:
    indexes = import_module("transfers.migrations.0002_search_trigram_indexes").INDEXES
    text = plan(filter_transfers(ResponsibilityTransfer.objects.order_by(), {"q": q}, []))
    assert "Seq Scan" not in text, text
    for name in indexes:
        assert f"Bitmap Index Scan on {name}" in text, text
