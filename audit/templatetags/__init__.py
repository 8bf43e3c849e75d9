"""Template tags of the audit trail's pages."""
