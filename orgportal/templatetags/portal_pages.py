"""Template tags of the read-only pages: a timestamp, a party and a countdown, what rows show.

Tags rather than `{% include %}` components because a list page shows 50 rows of several of each:
one Python call per value instead of an include with two date filters keeps a page's rendering
a few milliseconds (measured by bench/pages_bench.py). Every value is escaped by format_html.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timeuntil

register = template.Library()

URGENT = timedelta(days=1)  # a countdown with less left than this is marked urgent
_DASH = SafeString('<span class="muted">—</span>')


@register.simple_tag
def utc_time(value: datetime | None) -> SafeString:
    """`<time>` in UTC (the value stays in the HTML); static/orgportal/time.js adds the reader's zone."""
    if not isinstance(value, datetime):
        return _DASH
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return format_html('<time datetime="{}" data-local>{} UTC</time>', utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M"))


@register.simple_tag
def party(name: str = "", account_id: str = "", email: str = "") -> SafeString:
    """One party of a transfer or handshake: its name when known, then the id and/or email."""
    parts = []
    if name:
        parts.append(format_html("{}", name))
    if account_id:
        parts.append(format_html('<span class="mono">{}</span>', account_id))
    if email:
        parts.append(format_html('<span class="muted">{}</span>', email))
    if not parts:
        parts.append(SafeString('<span class="muted">unknown</span>'))
    return format_html('<span class="party">{}</span>', SafeString(" ".join(parts)))


@register.simple_tag
def countdown(deadline: datetime | None) -> SafeString:
    """Time left until `deadline`: server-rendered, kept current by static/orgportal/time.js.
    Under a day left marks it urgent ("soon"); a deadline in the past reads "deadline passed"."""
    if not isinstance(deadline, datetime):
        return SafeString('<span class="muted">no deadline</span>')
    utc = deadline.astimezone(UTC)
    left = utc - datetime.now(UTC)
    passed = left <= timedelta(0)
    return format_html(
        '<time class="countdown{}" datetime="{}" data-countdown title="{} UTC">{}</time>',
        " passed" if passed else " soon" if left < URGENT else "",
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M"),
        "deadline passed" if passed else f"{timeuntil(utc)} left",
    )
