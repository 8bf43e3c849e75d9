"""The row tags of the read-only pages (orgportal/templatetags/portal_pages.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from orgportal.templatetags.portal_pages import countdown, party, utc_time


def test_countdown_says_the_time_left_and_marks_urgency() -> None:
    soon = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    html = countdown(soon)
    assert html.startswith('<time class="countdown soon" datetime="') and "data-countdown" in html
    assert "5\xa0hours, 29\xa0minutes left" in html or "5\xa0hours, 30\xa0minutes left" in html

    later = countdown(datetime.now(UTC) + timedelta(days=12, hours=1))
    assert 'class="countdown"' in later and "1\xa0week, 5\xa0days left" in later


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
