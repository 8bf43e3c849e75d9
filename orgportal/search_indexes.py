"""PostgreSQL trigram indexes for a list's substring search, as a migration operation.

A list's search is `icontains` (or `contains`) over a few columns, which Django compiles on
PostgreSQL to `UPPER("col"::text) LIKE UPPER('%q%')` (or `"col"::text LIKE '%q%'`): no b-tree
serves a leading wildcard, so every search read the whole table (100,000 handshakes: ~50 ms of
SQL). A GIN index with pg_trgm's gin_trgm_ops on exactly that expression serves LIKE '%q%' for a
query of 3 characters or more, and the OR of the columns becomes a BitmapOr of index scans. The
ANALYZE gives the planner statistics on the indexed expressions, so it can tell a rare query
(read the matches through the indexes, sort them) from a common one (walk the sort's b-tree and
stop after a page).

pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. Reversing
drops the indexes and leaves the extension (other apps' indexes may use it). SQLite has no
pg_trgm: there both directions do nothing and the search stays a scan (fast enough there).
Migrations call this with literal tables and expressions, so a migration keeps meaning what it
meant when it was written.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def trigram_indexes(table: str, indexes: dict[str, str]) -> migrations.RunPython:
    """Create (and on reverse drop) one GIN trigram index per name -> SQL expression on `table`."""

    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, expression in indexes.items():
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ({expression} gin_trgm_ops)'
            )
        schema_editor.execute(f'ANALYZE "{table}"')

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in indexes:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')

    return migrations.RunPython(create, drop, elidable=False)
