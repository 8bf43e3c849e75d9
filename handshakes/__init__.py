"""Handshakes of every action type: invitations, all-features approvals, billing transfers."""
