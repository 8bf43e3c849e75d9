"""PostgreSQL only: trigram indexes for the handshake list's search (handshakes.selectors,
`q`: icontains over handshake_id, counterparty and transfer_id). See orgportal.search_indexes."""

from django.db import migrations

from orgportal.search_indexes import trigram_indexes

TABLE = "handshakes_handshake"
# name -> the expression the search's lookup compiles to.
INDEXES = {
    "handshake_search_handshake_id": 'UPPER("handshake_id"::text)',
    "handshake_search_counterparty": 'UPPER("counterparty"::text)',
    "handshake_search_transfer_id": 'UPPER("transfer_id"::text)',
}


class Migration(migrations.Migration):
    dependencies = [("handshakes", "0005_inbox_walk_indexes")]

    operations = [trigram_indexes(TABLE, INDEXES)]
