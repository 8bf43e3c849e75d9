"""In a real browser (Playwright + Debian's chromium) against the live portal and orgsim: an admin
enables INSPECTOR_POLICY on the root, creates an Inspector policy, attaches it to an account (each
after reviewing what will be sent) and reads that account's effective policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from orgportal.models import AwsConnection, Role
from orgportal.sync import sync_connection
from tests.conftest import PASSWORD, SimOrg

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
# synchronous and safe.

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSPECTOR = {"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}}}}}


@pytest.fixture
def page() -> Iterator[Any]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            # While Playwright's loop is this thread's running loop, Django keeps the thread's
            # database connections apart from its plain ones (asgiref Local, thread_critical):
            # the test's ORM calls opened a connection there. Close it while it is still reachable;
            # the test database's teardown only sees (and closes) the plain ones, and could not
            # drop the database with this one open ("other session using the database").
            connections.close_all()
            browser.close()


def test_admin_enables_inspector_creates_and_attaches_a_policy_and_sees_the_effective_policy(
    live_server: Any, page: Any, sim_org: SimOrg, sim_connection: AwsConnection, make_user: Any
) -> None:
    member = sim_org.add_member()
    run = sync_connection(sim_connection)
    assert run is not None and run.status == "ok"
    make_user("alice", roles=[Role.ADMIN], connection=sim_connection)
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{base}/organization/{sim_connection.pk}/")
    page.locator("#type-INSPECTOR_POLICY").get_by_role("link", name="Enable").click()
    # The review: what the type governs and the call exactly as it will be sent.
    assert "Amazon Inspector" in page.content() and "EnablePolicyType" in page.locator(".sent-call").inner_text()
    page.check("input[name=confirm]")
    page.get_by_role("button", name="Confirm: enable").click()
    assert page.locator("#type-INSPECTOR_POLICY .badge").inner_text() == "ENABLED"

    page.goto(f"{base}/organization/{sim_connection.pk}/policies/new/?type=INSPECTOR_POLICY")
    page.fill("input[name=name]", "Inspector EC2 scanning")
    page.fill("input[name=description]", "Scan EC2 in us-east-1")
    page.select_option("select[name=type]", "INSPECTOR_POLICY")
    page.fill("textarea[name=content]", json.dumps(INSPECTOR))
    page.get_by_role("button", name="Review before sending").click()
    assert "CreatePolicy" in page.locator(".sent-call").inner_text()
    page.get_by_role("button", name="Confirm: create").click()
    page.wait_for_selector("#policy-content")  # htmx's redirect to the new policy's page
    assert "was created" in page.content()
    assert "enable_in_regions" in page.locator("#policy-content").inner_text()

    page.select_option("select[name=target_id]", member)
    page.get_by_role("button", name="Attach…").click()
    assert member in page.locator(".sent-call").inner_text()
    page.get_by_role("button", name="Confirm: attach").click()
    page.get_by_text("is attached to").wait_for()

    page.goto(f"{base}/organization/{sim_connection.pk}/effective/")
    page.fill("input[name=account_id]", member)
    page.select_option("select[name=policy_type]", "INSPECTOR_POLICY")
    page.get_by_role("button", name="Show").click()
    effective = json.loads(page.locator("#effective-content").inner_text())
    assert effective == INSPECTOR
