"""PostgreSQL only: trigram indexes for the transfer list's search.

The search (transfers.selectors.filter_transfers, `q`) is `icontains` over transfer_id, name and
the two emails, which Django compiles on PostgreSQL to `UPPER("col"::text) LIKE UPPER('%q%')`, and
`contains` over the two account ids (`"col"::text LIKE '%q%'`): no b-tree serves a leading
wildcard, so every search read the whole table. A GIN index with pg_trgm's gin_trgm_ops on exactly
each of those expressions serves LIKE '%q%' for a query of 3 characters or more, and the OR of the
six becomes a BitmapOr of index scans. The ANALYZE gives the planner statistics on the indexed
expressions, so it can tell a rare query (read the matches through the indexes, sort them) from a
common one (walk the sort's b-tree and stop after a page).

pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. Reversing
drops the indexes and leaves the extension (other apps' indexes may use it). SQLite has no
pg_trgm: there, both directions do nothing and the search stays a scan (fast enough there).
"""

from django.db import migrations

TABLE = "transfers_responsibilitytransfer"
# name -> the expression Django's icontains / contains compiles to (see the module docstring).
INDEXES = {
    "transfer_search_transfer_id": 'UPPER("transfer_id"::text)',
    "transfer_search_name": 'UPPER("name"::text)',
    "transfer_search_source_account": '"source_account_id"',
    "transfer_search_target_account": '"target_account_id"',
    "transfer_search_source_email": 'UPPER("source_email"::text)',
    "transfer_search_target_email": 'UPPER("target_email"::text)',
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
    dependencies = [("transfers", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
