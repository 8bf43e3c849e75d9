"""End to end in a real browser: Playwright driving Debian's chromium against the real Django
server (pytest-django's live_server) and orgsim over HTTP, with data synced from orgsim. The user
moves through the real pages (inbox, lists, details, the organization page) by their links.

- An approver signs in, sees the pending billing-transfer invitation with its countdown on the
  inbox, opens it, reads the consequences, accepts; the row changes; the audit page shows it; the
  list's CSV export has it.
- A viewer sees no action buttons on the detail page, and a forged POST (with a valid CSRF token)
  gets a 403.
- An admin invites an organization from the organization page, the other side's approver accepts
  from their inbox, the admin ends the transfer from its detail page.
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


def _confirm(page: Any) -> None:
    """Press the review page's confirm button and wait until the action's outcome page replaced it."""
    page.locator("#action-page button[name=do]").click()
    page.wait_for_function("() => !document.querySelector('.sent-call')")
    page.wait_for_load_state()


def test_approver_accepts_a_billing_transfer_and_it_is_audited_and_exported(
    billing_invitation: Invitation,
    make_user: Any,
    page_for: Any,
) -> None:
    connection = billing_invitation.source.connection
    make_user("april", roles=[Role.APPROVER, Role.AUDITOR], connection=connection)
    handshake = billing_invitation.handshake
    page = page_for("april")

    # The inbox: the invitation waits for her answer, with the time left to accept.
    page.goto(reverse("inbox"))
    row = page.locator("section[aria-labelledby=waiting-for-you] tr", has_text=handshake.handshake_id)
    assert row.locator("time.countdown").inner_text().strip().endswith("left")
    row.get_by_role("link", name="Billing transfer").click()
    page.wait_for_url(f"**{reverse('handshake_detail', args=[handshake.pk])}")
    assert "OPEN" in page.locator("h1 .status").inner_text() or "REQUESTED" in page.locator("h1 .status").inner_text()

    # The detail page's actions lead to the confirmation: what it means, what will be sent.
    page.locator(f"#actions-handshake-{handshake.pk}").get_by_role("link", name="Accept…").click()
    page.wait_for_url(f"**{reverse('handshake_accept', args=[handshake.pk])}")
    assert page.locator(".countdown").inner_text().strip().endswith("left")  # one deadline, graded
    consequences = page.locator(".consequences").inner_text()
    assert "separate invoice" in consequences and "Cost Explorer" in consequences
    assert "AcceptHandshake" in page.locator(".sent-call").inner_text()
    page.check("input[name=understood]")
    _confirm(page)

    # Back on the detail page: accepted, said in words, and nothing more to do.
    page.wait_for_url(f"**{reverse('handshake_detail', args=[handshake.pk])}")
    assert f"Invitation {handshake.handshake_id} accepted" in page.locator(".messages").inner_text()
    assert "ACCEPTED" in page.locator("h1 .status").inner_text()
    assert page.locator(f"#actions-handshake-{handshake.pk} a").count() == 0
    handshake.refresh_from_db()
    assert handshake.state == "ACCEPTED"
    # The row changed: the inbox no longer waits for her; the list shows the new state.
    page.goto(reverse("inbox"))
    waiting = page.locator("section[aria-labelledby=waiting-for-you] tr", has_text=handshake.handshake_id)
    assert waiting.count() == 0
    page.goto(reverse("handshake_list") + "?state=ACCEPTED")
    listed = page.locator("tr", has_text=handshake.handshake_id)
    assert "ACCEPTED" in listed.locator(".status").first.inner_text()

    # The list's CSV export (same filters) contains it.
    href = page.get_by_role("link", name="Export CSV").get_attribute("href")
    assert href is not None and "state=ACCEPTED" in href
    response = page.request.get(href)
    assert response.status == 200
    assert handshake.handshake_id in response.text() and "ACCEPTED" in response.text()

    # The audit page (from the nav) shows who accepted.
    page.get_by_role("link", name="Audit", exact=True).click()
    page.wait_for_url(f"**{reverse('audit:events')}*")
    audit = page.locator("main").inner_text()
    assert "handshake.accept" in audit and "april" in audit


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
    # The inbox lists the invitation, but where the buttons live for an approver the viewer finds none.
    page.goto(reverse("inbox"))
    row = page.locator("section[aria-labelledby=waiting-for-you] tr", has_text=handshake.handshake_id)
    assert row.count() == 1 and row.locator(".row-actions a").count() == 0
    row.get_by_role("link", name="Billing transfer").click()
    page.wait_for_url(f"**{reverse('handshake_detail', args=[handshake.pk])}")
    assert page.locator(f"#actions-handshake-{handshake.pk}").count() == 1
    assert page.locator(f"#actions-handshake-{handshake.pk} a").count() == 0
    assert page.get_by_role("link", name="Accept…").count() == 0
    # A forged POST with a valid CSRF token is refused for the role, not for the token.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        reverse("handshake_accept", args=[handshake.pk]),
        form={"confirmed": "on", "understood": "on"},
        headers={"X-CSRFToken": csrf, "Referer": live_server.url + "/", "Origin": live_server.url},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()
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

    # The admin starts from the organization page's actions.
    admin = page_for("alice")
    admin.goto(reverse("organization", args=[payer.connection.pk]))
    admin.get_by_role("link", name="Invite an organization to transfer billing").click()
    admin.wait_for_url(f"**{reverse('transfer_invite', args=[payer.connection.pk])}")
    admin.fill("input[name=target]", SOURCE_ACCOUNT_ID)
    admin.fill("input[name=source_name]", "Source org billing")
    admin.select_option("select[name=start]", index=0)
    admin.locator("#action-page button[type=submit]").first.click()
    # The review says it in plain words; the exact request is folded in a <details> beneath.
    admin.wait_for_selector(".plain-review")
    assert "will pay the AWS bills of" in admin.locator(".plain-review").inner_text()
    admin.locator("details.sent-request summary").click()
    assert "InviteOrganizationToTransferResponsibility" in admin.locator(".sent-call").inner_text()
    _confirm(admin)
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.status == "REQUESTED"
    # Lands on the transfer list, where the new invitation is a row.
    admin.wait_for_url(f"**{reverse('transfer_list')}")
    assert "Invitation" in admin.locator(".messages").inner_text()
    assert "REQUESTED" in admin.locator("tr", has_text="Source org billing").locator(".status").first.inner_text()

    # The other side's approver answers from their inbox.
    source.sync()
    received = Handshake.objects.get(
        connection=source.connection, direction=Direction.RECEIVED, action="TRANSFER_RESPONSIBILITY"
    )
    approver = page_for("bob")
    approver.goto(reverse("inbox"))
    row = approver.locator("section[aria-labelledby=waiting-for-you] tr", has_text=received.handshake_id)
    row.get_by_role("link", name="Accept…").click()
    approver.wait_for_url(f"**{reverse('handshake_accept', args=[received.pk])}")
    approver.check("input[name=understood]")
    _confirm(approver)
    received.refresh_from_db()
    assert received.state == "ACCEPTED"

    # The admin ends it from the transfer's detail page, typing its name to confirm.
    payer.sync()
    transfer.refresh_from_db()
    assert transfer.status == "ACCEPTED"
    admin.goto(reverse("transfer_list"))
    admin.locator("tr", has_text="Source org billing").get_by_role("link", name="Source org billing").first.click()
    admin.wait_for_url(f"**{reverse('transfer_detail', args=[transfer.pk])}")
    admin.locator(f"#actions-transfer-{transfer.pk}").get_by_role("link", name="End transfer…").click()
    admin.wait_for_url(f"**{reverse('transfer_terminate', args=[transfer.pk])}")
    admin.select_option("select[name=end]", index=1)
    admin.locator("#action-page button[type=submit]").first.click()
    admin.wait_for_selector(".sent-call")
    assert "TerminateResponsibilityTransfer" in admin.locator(".sent-call").inner_text()
    admin.fill("input[name=confirm_name]", transfer.name)
    _confirm(admin)
    admin.wait_for_url(f"**{reverse('transfer_detail', args=[transfer.pk])}")
    transfer.refresh_from_db()
    assert transfer.status == "WITHDRAWN" and transfer.end_at is not None
    assert "WITHDRAWN" in admin.locator("main").inner_text()
