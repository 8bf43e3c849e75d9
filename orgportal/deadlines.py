"""How urgent a deadline is: the one rule every page (and the countdown tag) follows.

A deadline is graded by the time left, so a two-day billing invitation does not look routine:
under 7 days it is a notice, under 48 hours a warning, under 24 hours urgent, and at or past it,
passed. Pages say the rule in `RULE`'s words. static/orgportal/time.js keeps a countdown current
in the browser with the same three thresholds (change them there too).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOTICE = timedelta(days=7)
WARNING = timedelta(hours=48)
URGENT = timedelta(hours=24)

RULE = "Deadlines are marked as a notice under 7 days left, a warning under 48 hours, and urgent under 24 hours."

LEVELS = ("passed", "urgent", "warning", "notice", "")


def urgency(deadline: datetime | None, now: datetime | None = None) -> str:
    """'passed', 'urgent', 'warning', 'notice' or '' (plenty of time, or no deadline)."""
    if deadline is None:
        return ""
    now = now or datetime.now(UTC)
    left = deadline - now
    if left <= timedelta(0):
        return "passed"
    if left < URGENT:
        return "urgent"
    if left < WARNING:
        return "warning"
    if left < NOTICE:
        return "notice"
    return ""
