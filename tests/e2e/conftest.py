"""The browser tests reuse the action tests' orgsim scenes (payer, source, billing invitation)."""

from tests.actions.conftest import billing_invitation, payer, source  # noqa: F401 - fixtures, by name
