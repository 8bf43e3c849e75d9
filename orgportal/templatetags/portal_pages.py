"""Template tags of the read-only pages: a timestamp, a party, a countdown and the console's words
for API values (`plain`, `status_badge`), what rows show.

Tags rather than `{% include %}` components because a list page shows 50 rows of several of each:
one Python call per value instead of an include with two date filters keeps a page's rendering
a few milliseconds (measured by bench/pages_bench.py). Every value is escaped by format_html.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timeuntil

from orgportal import labels
from orgportal.deadlines import RULE, urgency

register = template.Library()

_DASH = SafeString('<span class="muted">—</span>')


@register.simple_tag
def utc_time(value: datetime | None, compact: bool = False) -> SafeString:
    """`<time>` in UTC (the value stays in the HTML); static/orgportal/time.js adds the reader's zone.

    `compact` (list cells): the date alone on one line, the full UTC time in the title and the
    reader's local time added to the title rather than beside it, so a row stays one line high."""
    if not isinstance(value, datetime):
        return _DASH
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    full = utc.strftime("%Y-%m-%d %H:%M")
    if compact:
        return format_html(
            '<time class="compact" datetime="{}" data-local="title" title="{} UTC">{}</time>',
            utc.isoformat(),
            full,
            utc.strftime("%Y-%m-%d"),
        )
    return format_html('<time datetime="{}" data-local>{} UTC</time>', utc.isoformat(), full)


@register.filter
def plain(value: str, kind: str) -> str:
    """The AWS console's words for an API value: `{{ h.state|plain:"handshake" }}`
    (kinds: handshake, transfer, action, type; see orgportal/labels.py)."""
    return labels.plain(value, kind)


@register.simple_tag
def status_badge(value: str, kind: str) -> SafeString:
    """A state or status as a badge in the console's words, the API value beside it."""
    words = labels.plain(value, kind)
    if words == value:
        return format_html('<span class="badge {}">{}</span>', value, value)
    return format_html(
        '<span class="status"><span class="badge {}">{}</span> <span class="api mono muted">{}</span></span>',
        value,
        words,
        value,
    )


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
    Its class grades it by the one rule (`orgportal.deadlines.urgency`: notice, warning, urgent);
    a deadline in the past reads "deadline passed"."""
    if not isinstance(deadline, datetime):
        return SafeString('<span class="muted">no deadline</span>')
    utc = deadline.astimezone(UTC)
    level = urgency(utc, datetime.now(UTC))
    passed = level == "passed"
    return format_html(
        '<time class="countdown{}" datetime="{}" data-countdown title="{} UTC">{}</time>',
        f" {level}" if level else "",
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M"),
        "deadline passed" if passed else f"{timeuntil(utc)} left",
    )


@register.simple_tag
def urgency_rule() -> str:
    """The urgency rule in words, for the pages that grade deadlines (orgportal/deadlines.py)."""
    return RULE
