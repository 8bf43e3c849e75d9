"""The demo in a real browser (Playwright + Debian's chromium), where the portal holds both sides
of every billing transfer (one connection per demo organization):

- the demo's 7 transfers are 7 rows in the combined transfers list, not 14;
- a Viewer who follows an accept link reads a 403 page naming the role and the connection;
- accepted on one side, the other side's page shows ACCEPTED at once, with no sync run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from handshakes.models import Direction, Handshake
from orgportal.models import SyncRun
from tests.e2e.test_finance_ux import browser, demo, open_as  # noqa: F401 - fixtures, by name
from transfers.models import ResponsibilityTransfer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_demos_transfers_are_one_row_each_naming_both_sides(demo: Any, open_as: Any) -> None:
    held = ResponsibilityTransfer.objects.count()
    transfers = set(ResponsibilityTransfer.objects.values_list("transfer_id", flat=True))
    assert len(transfers) == 7 and held == 14  # each cached twice: the payer's side and the source's
    page = open_as("viewer")
    page.goto(reverse("transfer_list"))
    shown = page.locator("#rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert sorted(shown) == sorted(transfers)
    sides = page.locator("#rows tr[data-id] td[data-label='Sides you hold']").first.inner_text()
    assert "We pay" in sides and "Paid for" in sides
    assert not page.errors


def test_a_viewer_following_an_accept_link_is_told_which_role_on_which_connection(demo: Any, open_as: Any) -> None:
    invitation = Handshake.objects.filter(state="OPEN", direction=Direction.RECEIVED).select_related("connection")[0]
    page = open_as("viewer")
    response = page.goto(reverse("handshake_accept", args=[invitation.pk]))
    assert response is not None and response.status == 403
    alert = page.locator("[role=alert]").inner_text()
    assert f"This needs the Approver role on {invitation.connection.name}" in alert
    assert "administrator" in page.locator("main").inner_text()


def test_accepted_on_one_side_the_other_sides_page_shows_accepted_without_a_sync(demo: Any, open_as: Any) -> None:
    received = next(
        h
        for h in Handshake.objects.filter(
            state="OPEN", direction=Direction.RECEIVED, action="TRANSFER_RESPONSIBILITY"
        ).order_by("pk")
        if Handshake.objects.filter(handshake_id=h.handshake_id, direction=Direction.SENT).exists()
    )
    sent = Handshake.objects.get(handshake_id=received.handshake_id, direction=Direction.SENT)
    runs = SyncRun.objects.count()
    page = open_as("approver")
    page.goto(reverse("handshake_accept", args=[received.pk]))
    page.check("input[name=understood]")
    page.locator("#action-page button[name=do]").click()
    page.wait_for_url(re.compile(r".*/handshakes/\d+/$"))
    assert "other side" in page.locator(".messages").inner_text()
    # The sender's copy, on the other connection's page.
    page.goto(reverse("handshake_detail", args=[sent.pk]))
    assert "ACCEPTED" in page.locator("h1 .status").inner_text()
    assert SyncRun.objects.count() == runs  # a targeted re-read, not a sync (and no beat ran)
    assert not page.errors
