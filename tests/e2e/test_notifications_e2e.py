"""End to end in a real browser: a viewer (who gets nothing by default) subscribes to new
invitations by email from the notification settings; an invitation arrives in orgsim; the next
sync and the notification step email it to a real SMTP server; the notifications page says it
was sent."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from notifications.delivery import deliver_due
from notifications.services import process_connection
from orgportal.models import Role
from tests.actions.conftest import SOURCE_ACCOUNT_ID, Side
from tests.e2e.test_actions_in_browser import browser, page_for  # noqa: F401 - fixtures, by name
from tests.notifications.conftest import Smtp, smtp, text_of  # noqa: F401 - fixtures, by name
from transfers.services import start_choices

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_user_subscribes_and_the_next_sync_emails_the_new_invitation(
    smtp: Smtp,  # noqa: F811
    payer: Side,
    source: Side,
    make_user: Any,
    page_for: Any,  # noqa: F811
) -> None:
    connection = source.connection
    make_user("victor", roles=[Role.VIEWER], connection=connection)
    page = page_for("victor")

    # From the nav to the settings; the viewer's defaults are "nothing": he chooses.
    page.get_by_role("link", name="Notifications").click()
    page.wait_for_url(f"**{reverse('notifications:list')}")
    assert "Nothing was sent yet" in page.locator("main").inner_text()
    page.get_by_role("link", name="Choose what you get").click()
    page.wait_for_url(f"**{reverse('notifications:settings')}")
    section = page.locator(f"#connection-{connection.pk}")
    section.get_by_label("New invitation received").check()
    section.get_by_label("Email to me").check()
    section.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**{reverse('notifications:settings')}")
    assert f"Saved your notifications for {connection.name}" in page.locator(".messages").inner_text()

    # An invitation arrives in orgsim; the next sync and the notification step email it.
    payer.org.client.invite_organization_to_transfer_responsibility(
        Type="BILLING",
        Target={"Id": SOURCE_ACCOUNT_ID, "Type": "ACCOUNT"},
        SourceName="Source org billing",
        StartTimestamp=start_choices()[0],
    )
    source.sync()
    assert process_connection(connection).deliveries == 1
    assert deliver_due().sent == 1
    [message] = smtp.wait_for(1)
    assert smtp.envelopes[0].rcpt_tos == ["victor@example.com"]
    assert "New invitation: Billing transfer" in message["Subject"]
    assert "/handshakes/" in text_of(message)

    # The notifications page shows what was sent, where and that it went out.
    page.goto(reverse("notifications:list"))
    row = page.locator("#deliveries tbody tr").first
    assert "New invitation: Billing transfer" in row.inner_text()
    assert "email to victor@example.com" in row.inner_text() and "Sent" in row.locator(".badge").inner_text()
