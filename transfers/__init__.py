"""Billing (responsibility) transfers: inbound (we pay) and outbound (another org pays for us)."""
