"""The audit trail: one append-only, hash-chained event model, its CSV export and verification."""
