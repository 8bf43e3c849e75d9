"""The row tags of the read-only pages (orgportal/templatetags/portal_pages.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from orgportal.deadlines import urgency
from orgportal.templatetags.portal_pages import countdown, party, plain, status_badge, utc_time


def test_countdown_says_the_time_left_and_marks_urgency() -> None:
    soon = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    html = countdown(soon)
    assert html.startswith('<time class="countdown urgent" datetime="') and "data-countdown" in html
    assert "5\xa0hours, 29\xa0minutes left" in html or "5\xa0hours, 30\xa0minutes left" in html

    later = countdown(datetime.now(UTC) + timedelta(days=12, hours=1))
    assert 'class="countdown"' in later and "1\xa0week, 5\xa0days left" in later


def test_urgency_scales_with_the_time_left() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert urgency(now + timedelta(days=8), now) == ""
    assert urgency(now + timedelta(days=6), now) == "notice"
    assert urgency(now + timedelta(hours=47), now) == "warning"
    assert urgency(now + timedelta(hours=23), now) == "urgent"
    assert urgency(now, now) == "passed"
    assert urgency(None, now) == ""
    # A two-day billing invitation is no longer routine.
    assert 'class="countdown warning"' in countdown(datetime.now(UTC) + timedelta(hours=40))
    assert 'class="countdown notice"' in countdown(datetime.now(UTC) + timedelta(days=3))


def test_api_values_read_in_the_consoles_words_beside_the_value() -> None:
    assert plain("REQUESTED", "transfer") == "Awaiting response"
    assert plain("OPEN", "handshake") == "Awaiting response"
    assert plain("ACCEPTED", "transfer") == "Transfer accepted"
    assert plain("WITHDRAWN", "transfer") == "Transfer withdrawn"
    assert plain("TRANSFER_RESPONSIBILITY", "action") == "Billing transfer"
    assert plain("SOMETHING_NEW", "action") == "Something new"
    html = status_badge("ACCEPTED", "transfer")
    assert '<span class="badge ACCEPTED">Transfer accepted</span>' in html and ">ACCEPTED</span>" in html


def test_compact_times_fit_one_line() -> None:
    html = utc_time(datetime(2026, 3, 1, 0, 30, tzinfo=UTC), True)
    assert ">2026-03-01</time>" in html and 'title="2026-03-01 00:30 UTC"' in html


def test_countdown_of_a_passed_or_missing_deadline() -> None:
    past = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    html = countdown(past)
    assert 'class="countdown passed"' in html and ">deadline passed</time>" in html
    assert 'title="2026-01-02 03:04 UTC"' in html and 'datetime="2026-01-02T03:04:00+00:00"' in html
    assert countdown(None) == '<span class="muted">no deadline</span>'


def test_times_are_shown_in_utc_whatever_zone_they_come_in() -> None:
    plus_two = timezone(timedelta(hours=2))
    html = utc_time(datetime(2026, 3, 1, 2, 30, tzinfo=plus_two))
    assert html == '<time datetime="2026-03-01T00:30:00+00:00" data-local>2026-03-01 00:30 UTC</time>'
    assert countdown(datetime(2099, 3, 1, 2, 30, tzinfo=plus_two)).count("2099-03-01T00:30:00+00:00") == 1


def test_a_party_escapes_what_aws_or_users_wrote() -> None:
    html = party('<script>alert("x")</script>', "111111111111", "a&b@example.com")
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b@example.com" in html
    assert party() == '<span class="party"><span class="muted">unknown</span></span>'
