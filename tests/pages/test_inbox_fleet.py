"""The inbox of a fleet: past a dozen connections it lists those that need a look (a failed
sync, out-of-date data, paused) and counts the rest, so the one that failed is not lost among
two hundred "synced a minute ago" rows; with a few connections it lists them all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from front.inbox import CONNECTIONS_LISTED, recent_changes
from orgportal.models import Role, SyncRun
from tests.conftest import grant
from tests.pages.conftest import handshake_change


def _connections_section(html: str) -> str:
    return html.split('id="connections"', 1)[1]


def _fleet(make_connection: Any, make_user: Any, count: int) -> tuple[Any, list[Any]]:
    user = make_user("fiona")
    now = timezone.now()
    fleet = []
    for n in range(count):
        connection = make_connection(name=f"Fleet org {n:03d}")
        connection.last_synced_at = now - timedelta(minutes=1)
        connection.save(update_fields=["last_synced_at"])
        SyncRun.objects.create(connection=connection, status=SyncRun.Status.OK, finished_at=now)
        grant(user, connection, Role.VIEWER)
        fleet.append(connection)
    return user, fleet


def test_a_fleet_inbox_lists_the_connections_that_need_a_look_and_counts_the_rest(
    make_connection: Any, make_user: Any
) -> None:
    user, fleet = _fleet(make_connection, make_user, CONNECTIONS_LISTED + 8)
    failing, paused = fleet[7], fleet[11]
    SyncRun.objects.create(
        connection=failing, status=SyncRun.Status.FAILED, error="AccessDenied <b>", finished_at=timezone.now()
    )
    paused.sync_enabled = False
    paused.save(update_fields=["sync_enabled"])
    client = Client()
    client.force_login(user)

    section = _connections_section(client.get(reverse("inbox")).content.decode())

    assert "Fleet org 007" in section and "Fleet org 011" in section
    assert "AccessDenied &lt;b&gt;" in section and "<b>" not in section
    assert "Fleet org 000" not in section  # synced and up to date: counted, not listed
    assert f"{len(fleet) - 2} more connections synced and up to date." in section
    assert reverse("connection_list") in section


def test_a_fleet_all_up_to_date_says_so_in_one_line(make_connection: Any, make_user: Any) -> None:
    user, fleet = _fleet(make_connection, make_user, CONNECTIONS_LISTED + 1)
    client = Client()
    client.force_login(user)
    section = _connections_section(client.get(reverse("inbox")).content.decode())
    assert f"All {len(fleet)} connections synced and up to date." in section
    assert "<table" not in section.split("</section>")[0]


def test_a_few_connections_are_all_listed(make_connection: Any, make_user: Any) -> None:
    user, fleet = _fleet(make_connection, make_user, 3)
    client = Client()
    client.force_login(user)
    section = _connections_section(client.get(reverse("inbox")).content.decode())
    assert all(c.name in section for c in fleet)
    assert "more connection" not in section


def test_recent_changes_are_the_users_newest_however_busy_other_connections_are(
    make_connection: Any, make_handshake: Any
) -> None:
    mine, also_mine, busy = (make_connection(name=n) for n in ("Mine", "Also mine", "Busy tenant"))
    now = timezone.now()
    expected = []
    for n, connection in enumerate([mine, also_mine] * 3):
        h = make_handshake(connection, handshake_id=f"h-mine{n:05d}")
        handshake_change(h, "changed", {"state": ["OPEN", "ACCEPTED"]}, observed_at=now - timedelta(hours=n + 1))
        expected.append(h.handshake_id)
    for n in range(40):  # another tenant's newer changes, all of them after every one of ours
        h = make_handshake(busy, handshake_id=f"h-busy{n:05d}")
        handshake_change(h, "changed", {"state": ["OPEN", "ACCEPTED"]}, observed_at=now - timedelta(seconds=n))

    seen = [c.obj.handshake_id for c in recent_changes([mine.pk, also_mine.pk], 4)]

    assert seen == expected[:4]  # newest first, merged across the user's connections, none of Busy's
