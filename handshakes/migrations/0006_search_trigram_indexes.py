"""PostgreSQL only: trigram indexes for the handshake list's search.

The search (handshakes.selectors.filter_handshakes, `q`) is `icontains` over handshake_id,
counterparty and transfer_id, which Django compiles on PostgreSQL to
`UPPER("col"::text) LIKE UPPER('%q%')`: no b-tree serves a leading wildcard, so every search read
the whole table (100,000 handshakes: ~50 ms of SQL). A GIN index with pg_trgm's gin_trgm_ops on
exactly that expression serves LIKE '%q%' for a query of 3 characters or more, and the OR of the
three becomes a BitmapOr of index scans. The ANALYZE gives the planner statistics on the indexed
expressions, so it can tell a rare query (read the matches through the indexes, sort them) from a
common one (walk the sort's b-tree and stop after a page).

pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. Reversing
drops the indexes and leaves the extension (other apps' indexes may use it). SQLite has no
pg_trgm: there, both directions do nothing and the search stays a scan (fast enough there).
"""

from django.db import migrations

TABLE = "handshakes_handshake"
# name -> the expression Django's icontains compiles to (see the module docstring).
INDEXES = {
    "handshake_search_handshake_id": 'UPPER("handshake_id"::text)',
    "handshake_search_counterparty": 'UPPER("counterparty"::text)',
    "handshake_search_transfer_id": 'UPPER("transfer_id"::text)',
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{TABLE}" USING gin ({expression} gin_trgm_ops)')
    schema_editor.execute(f'ANALYZE "{TABLE}"')


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("handshakes", "0005_inbox_walk_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
