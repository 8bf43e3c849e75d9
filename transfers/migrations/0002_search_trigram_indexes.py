"""PostgreSQL only: trigram indexes for the transfer list's search (transfers.selectors, `q`:
icontains over transfer_id, name and the two emails; contains over the two account ids, which
compiles without UPPER). See orgportal.search_indexes."""

from django.db import migrations

from orgportal.search_indexes import trigram_indexes

TABLE = "transfers_responsibilitytransfer"
# name -> the expression the search's lookup compiles to.
INDEXES = {
    "transfer_search_transfer_id": 'UPPER("transfer_id"::text)',
    "transfer_search_name": 'UPPER("name"::text)',
    "transfer_search_source_account": '"source_account_id"',
    "transfer_search_target_account": '"target_account_id"',
    "transfer_search_source_email": 'UPPER("source_email"::text)',
    "transfer_search_target_email": 'UPPER("target_email"::text)',
}


class Migration(migrations.Migration):
    dependencies = [("transfers", "0001_initial")]

    operations = [trigram_indexes(TABLE, INDEXES)]
