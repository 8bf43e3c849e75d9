"""Every sync of a connection is followed by the notifications' outbox step (registered by the app
in the one registry, run by the sync task), and a failure there never fails the sync."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from notifications.models import Event, EventKind
from orgportal import registry
from orgportal.models import AwsConnection, SyncRun
from orgportal.tasks import sync_connection_task
from tests.actions.conftest import Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_hook() -> Iterator[list[int]]:
    """An after-sync hook that fails, and the connections it saw."""
    seen: list[int] = []

    def fail(connection: AwsConnection, run: SyncRun) -> None:
        seen.append(connection.pk)
        raise RuntimeError("a hook that breaks")

    registry.register_after_sync("broken", fail)
    try:
        yield seen
    finally:
        registry.unregister_after_sync("broken")


def test_the_sync_task_is_followed_by_the_invitation_event_without_waiting_for_a_tick(
    invitation: Invitation,
) -> None:
    connection = invitation.source.connection
    assert not Event.objects.filter(connection=connection).exists()  # the fixture's syncs: the engine alone

    assert sync_connection_task(connection.pk, manual=True) == "ok"

    event = Event.objects.get(connection=connection, kind=EventKind.INVITATION_RECEIVED)
    assert event.key.endswith(invitation.handshake.handshake_id)


def test_a_failing_after_sync_hook_never_fails_the_sync_nor_the_notifications(
    invitation: Invitation, broken_hook: list[int], caplog: Any
) -> None:
    connection = invitation.source.connection

    assert sync_connection_task(connection.pk, manual=True) == "ok"

    assert broken_hook == [connection.pk]
    assert "'broken' failed" in caplog.text
    assert SyncRun.objects.filter(connection=connection).latest("pk").status == "ok"
    # The notifications' own step was not undone by the failure beside it.
    assert Event.objects.filter(connection=connection, kind=EventKind.INVITATION_RECEIVED).count() == 1
