"""Two-person approval end to end in a real browser: two users, each in their own browser context
(their own cookies and session), against the real server and orgsim.

april confirms the acceptance of a billing-transfer invitation; with the connection's rule on, she
lands on the request's page (nothing sent, no approve button for her). bob finds the request in his
inbox, reads exactly what will be sent, approves it with a reason; orgsim counts one
AcceptHandshake. april, reloading her page, reads that bob approved it and that it was sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest, State
from orgportal.models import Role
from tests.actions.conftest import Invitation, calls_of
from tests.approvals.conftest import rule_on
from tests.e2e.test_actions_in_browser import browser, page_for  # noqa: F401 - fixtures, by name

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _press_confirm_and_land(page: Any, url_part: str) -> None:
    page.locator("#action-page button[name=do]").click()
    page.wait_for_url(f"**{url_part}")
    page.wait_for_load_state()


def test_one_asks_another_approves_in_two_browsers(
    orgsim: Any,
    billing_invitation: Invitation,
    make_user: Any,
    page_for: Any,  # noqa: F811 - the fixture
) -> None:
    connection = billing_invitation.source.connection
    handshake = billing_invitation.handshake
    make_user("april", roles=[Role.APPROVER], connection=connection)
    make_user("bob", roles=[Role.APPROVER], connection=connection)
    rule_on(connection, "handshake.accept")
    april = page_for("april")
    bob = page_for("bob")

    # april accepts as she always would: from the invitation's page, knowingly.
    april.goto(reverse("handshake_accept", args=[handshake.pk]))
    assert "AcceptHandshake" in april.locator(".sent-call").inner_text()
    april.check("input[name=understood]")
    april.locator("#action-page button[name=do]").click()
    april.wait_for_url("**/approvals/*/")
    approval = ApprovalRequest.objects.get()
    assert april.url.endswith(reverse("approval_detail", args=[approval.pk]))
    assert "Sent for approval as request" in april.locator(".messages").inner_text()
    assert "Waiting for a second person" in april.locator("h1 .badge").inner_text()
    assert handshake.handshake_id in april.locator(".sent-call").inner_text()
    assert april.get_by_role("link", name="Approve…").count() == 0
    assert calls_of(orgsim, "AcceptHandshake") == 0

    # bob finds it in his inbox, reads what will be sent, and approves with a reason.
    bob.goto(reverse("inbox"))
    row = bob.locator("section[aria-labelledby=approvals-waiting] tr", has_text=handshake.handshake_id)
    assert "april" in row.inner_text()
    row.get_by_role("link", name="Approve…").click()
    bob.wait_for_url(f"**{reverse('approval_approve', args=[approval.pk])}")
    sent = bob.locator(".sent-call").inner_text()
    assert "AcceptHandshake" in sent and handshake.handshake_id in sent
    bob.fill("textarea[name=reason]", "Matches the signed agreement")
    _press_confirm_and_land(bob, reverse("approval_detail", args=[approval.pk]))
    assert f"Request #{approval.pk} approved" in bob.locator(".messages").inner_text()
    assert "Approved and sent" in bob.locator("h1 .badge").inner_text()
    assert calls_of(orgsim, "AcceptHandshake") == 1

    # april's page, reloaded, tells her who approved it and that it was sent.
    april.reload()
    assert "Approved and sent" in april.locator("h1 .badge").inner_text()
    summary = april.locator(".approval-summary").inner_text()
    assert "bob" in summary and "Matches the signed agreement" in summary
    approval.refresh_from_db()
    assert approval.state == State.EXECUTED
    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
