"""End to end in a real browser: Playwright driving Debian's chromium against the real Django
server (pytest-django's live_server) and orgsim over HTTP, with data synced from orgsim.

- An approver signs in, sees the pending billing-transfer invitation with its countdown, reads
  the consequences, accepts; the row changes; the audit page shows it; the CSV export has it.
- A viewer sees no action buttons, and a forged POST (with a valid CSRF token) gets a 403.
- An admin invites an organization, the other side's approver accepts, the admin terminates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from handshakes.models import Direction, Handshake
from orgportal.models import Role
from tests.actions.conftest import SOURCE_ACCOUNT_ID, Invitation, Side
from tests.conftest import PASSWORD
from transfers.models import ResponsibilityTransfer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser: Any, live_server: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def sign_in(username: str) -> Any:
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url, f"{username} could not sign in"
        return page

    yield sign_in
    for context in contexts:
        context.close()


def test_approver_accepts_a_billing_transfer_and_it_is_audited_and_exported(
    billing_invitation: Invitation,
    make_user: Any,
    page_for: Any,
) -> None:
    connection = billing_invitation.source.connection
    make_user("april", roles=[Role.APPROVER, Role.AUDITOR], connection=connection)
    handshake = billing_invitation.handshake
    page = page_for("april")

    page.goto(reverse("handshake_accept", args=[handshake.pk]))
    assert page.locator(".countdown").inner_text().strip().endswith("left)")
    consequences = page.locator(".consequences").inner_text()
    assert "separate invoice" in consequences and "Cost Explorer" in consequences
    assert "AcceptHandshake" in page.locator(".sent-call").inner_text()
    page.check("input[name=understood]")
    page.click("button[name=do]")
    page.wait_for_load_state()
    page.wait_for_function("() => !document.querySelector('.sent-call')")

    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
    # The row changed: its actions cell offers nothing more, its page shows the new state.
    page.goto(reverse("handshake_accept", args=[handshake.pk]))
    assert "ACCEPTED" in page.locator(".badge").first.inner_text()

    page.goto(reverse("audit:events"))
    audit = page.locator("main").inner_text()
    assert "handshake.accept" in audit and "april" in audit

    response = page.request.get(reverse("handshake_export") + f"?connection={connection.pk}&state=ACCEPTED")
    assert response.status == 200
    assert handshake.handshake_id in response.text()


def test_viewer_sees_no_action_and_a_forged_post_gets_403(
    billing_invitation: Invitation,
    make_user: Any,
    page_for: Any,
    live_server: Any,
) -> None:
    connection = billing_invitation.source.connection
    make_user("victor", roles=[Role.VIEWER], connection=connection)
    handshake = billing_invitation.handshake
    page = page_for("victor")
    # Where the action buttons live for everyone else, the viewer finds none.
    page.goto(reverse("handshake_accept", args=[handshake.pk]))
    assert page.locator("button[name=do]").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        reverse("handshake_accept", args=[handshake.pk]),
        form={"confirmed": "on", "understood": "on"},
        headers={"X-CSRFToken": csrf, "Referer": live_server.url + "/", "Origin": live_server.url},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()  # refused for the role, not for the token
    handshake.refresh_from_db()
    assert handshake.state in ("OPEN", "REQUESTED")


def test_admin_invites_the_other_side_accepts_and_the_admin_terminates(
    orgsim: Any,
    payer: Side,
    source: Side,
    make_user: Any,
    page_for: Any,
) -> None:
    make_user("alice", roles=[Role.ADMIN], connection=payer.connection)
    make_user("bob", roles=[Role.APPROVER], connection=source.connection)

    admin = page_for("alice")
    admin.goto(reverse("transfer_invite", args=[payer.connection.pk]))
    admin.fill("input[name=target]", SOURCE_ACCOUNT_ID)
    admin.fill("input[name=source_name]", "Source org billing")
    admin.select_option("select[name=start]", index=0)
    admin.click("button[type=submit]")
    admin.wait_for_selector(".sent-call")
    assert "InviteOrganizationToTransferResponsibility" in admin.locator(".sent-call").inner_text()
    admin.click("button[name=do]")
    admin.wait_for_function("() => !document.querySelector('.sent-call')")
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.status == "REQUESTED"

    source.sync()
    received = Handshake.objects.get(
        connection=source.connection, direction=Direction.RECEIVED, action="TRANSFER_RESPONSIBILITY"
    )
    approver = page_for("bob")
    approver.goto(reverse("handshake_accept", args=[received.pk]))
    approver.check("input[name=understood]")
    approver.click("button[name=do]")
    approver.wait_for_function("() => !document.querySelector('.sent-call')")
    received.refresh_from_db()
    assert received.state == "ACCEPTED"

    payer.sync()
    transfer.refresh_from_db()
    assert transfer.status == "ACCEPTED"
    admin.goto(reverse("transfer_terminate", args=[transfer.pk]))
    admin.select_option("select[name=end]", index=1)
    admin.click("button[type=submit]")
    admin.wait_for_selector(".sent-call")
    admin.fill("input[name=confirm_name]", transfer.name)
    admin.click("button[name=do]")
    admin.wait_for_function("() => !document.querySelector('.sent-call')")
    transfer.refresh_from_db()
    assert transfer.status == "WITHDRAWN" and transfer.end_at is not None
