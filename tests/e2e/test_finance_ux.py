"""A finance team's day in a real browser (Playwright + Debian's chromium) on the demo (orgsim's
demo scenario, one connection per organization, synced by `demo_setup`):

- filter in place (htmx), then export: the CSV holds exactly the rows the table shows;
- the connection form refuses access keys typed while the mode is the default chain;
- every main page fits a 390 px phone (no horizontal scroll), turns dark under a dark color
  scheme, and logs no console error or CSP violation;
- axe-core finds no serious or critical violation on any page, light or dark;
- the billing map's SVG names every demo organization;
- the demo's 7 transfers are 7 rows in the combined transfers list (the portal holds both sides
  of each: 14 cached rows), a Viewer following an accept link reads a 403 page naming the role
  and the connection, and an invitation accepted on one side shows ACCEPTED on the other side's
  page at once, with no sync run.

axe-core is vendored (tests/e2e/vendor/axe.min.js, MPL-2.0) so this runs with no download; it
is injected into pages of a context that bypasses the CSP (the CSP rightly refuses the injected
script), while the console and layout checks run under the real CSP.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from handshakes.models import Direction, Handshake
from orgportal.models import AwsConnection, SyncRun
from tests.conftest import PASSWORD
from tests.e2e.test_actions_in_browser import CHROMIUM_ARGS
from transfers.models import ResponsibilityTransfer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"

# Collects CSP violations as console errors, so one listener sees both.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo(orgsim_demo: Any, monkeypatch: Any, settings: Any) -> Any:
    settings.ALLOW_AMBIENT_CREDENTIALS = True  # as `make run`'s demo: the superuser may pick the default chain
    monkeypatch.setenv("DEMO_PASSWORD", PASSWORD)
    call_command("demo_setup", endpoint=orgsim_demo.endpoint, stdout=io.StringIO())
    assert AwsConnection.objects.count() == 7
    return orgsim_demo


@pytest.fixture
def open_as(browser: Any, live_server: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def sign_in(username: str, **options: Any) -> Any:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, **options)
        context.set_default_timeout(15_000)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url, f"{username} could not sign in"
        return page

    yield sign_in
    for context in contexts:
        context.close()


def _csv_column(download: Any, column: str) -> list[str]:
    text = Path(download.path()).read_text(encoding="utf-8")
    return [row[column] for row in csv.DictReader(io.StringIO(text))]


def _filter_then_export(page: Any, path: str, select: str, value: str, column: str) -> None:
    page.goto(path)
    everything = page.locator("#rows tr[data-id]").count()
    with page.expect_response(lambda r: path in r.url and value in r.url):
        page.select_option(select, value)
    page.wait_for_url(f"**{value}**")  # the URL is the state
    shown = sorted(page.locator("#rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)"))
    assert shown and len(shown) < everything, "the filter narrowed the table in place"
    with page.expect_download() as info:
        page.click("#rows a.export")
    assert sorted(_csv_column(info.value, column)) == shown


def test_filter_in_place_then_export_holds_exactly_the_rows_shown(demo: Any, open_as: Any) -> None:
    page = open_as("viewer")  # finance users hold the Viewer role: they export too
    _filter_then_export(page, "/transfers/", "select[name=status]", "ACCEPTED", "transfer_id")
    _filter_then_export(page, "/handshakes/", "select[name=state]", "DECLINED", "handshake_id")
    assert not page.errors


def test_the_connection_form_refuses_keys_typed_with_the_default_chain_mode(demo: Any, open_as: Any) -> None:
    page = open_as("demo")
    page.goto("/connections/add/")
    # Only the chosen mode's fields show (no script: CSS :has()).
    page.select_option("select[name=read-mode]", "keys")
    assert page.locator("input[name=read-access_key_id]").is_visible()
    assert not page.locator("input[name=read-role_arn]").is_visible()
    page.fill("input[name=name]", "Typed keys")
    page.fill("input[name=endpoint_url]", demo.endpoint)
    page.fill("input[name=read-access_key_id]", "210987654321")
    page.fill("input[name=read-secret_access_key]", "a-typed-secret")
    page.select_option("select[name=read-mode]", "default")
    assert not page.locator("input[name=read-access_key_id]").is_visible()
    page.click("form.connection-form button[type=submit]:not([name=test])")
    page.wait_for_load_state()
    error = page.locator(".for-keys .error").first
    assert error.is_visible() and "does not use it" in error.inner_text()
    assert not AwsConnection.objects.filter(name="Typed keys").exists()
    # The refusal is a 400 (bad input is a 4xx), which the browser logs; nothing else may be.
    assert [e for e in page.errors if "status of 400" not in e] == []


def _main_pages() -> list[str]:
    transfer = ResponsibilityTransfer.objects.order_by("pk").first()
    handshake = Handshake.objects.filter(state="OPEN", action="TRANSFER_RESPONSIBILITY", direction="received").first()
    assert transfer is not None and handshake is not None
    connection = AwsConnection.objects.order_by("name").first()
    assert connection is not None
    return [
        "/",
        "/transfers/",
        "/handshakes/",
        f"/transfers/{transfer.pk}/",
        f"/handshakes/{handshake.pk}/",
        f"/handshakes/{handshake.pk}/accept/",
        "/billing-map/",
        "/audit/",
        "/connections/",
        f"/connections/{connection.pk}/",
        "/connections/add/",
        "/accounts/users/",
        f"/organization/{connection.pk}/",
    ]


# The innermost elements that reach past the viewport's right edge, to say what is too wide.
WIDEST = """
[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
"""


def _dark(rgb: str) -> bool:
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 60


def test_every_page_fits_a_phone_turns_dark_and_logs_no_error(demo: Any, open_as: Any) -> None:
    pages = _main_pages()
    for scheme in ("light", "dark"):
        page = open_as("demo", viewport={"width": 390, "height": 844}, color_scheme=scheme)
        for path in pages:
            response = page.goto(path)
            assert response is not None and response.ok, path
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide at 390 px ({scheme}): {page.evaluate(WIDEST)}"
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert _dark(background) == (scheme == "dark"), f"{path}: {background} under {scheme}"
        assert not page.errors, page.errors
    # The skip link is the first thing a keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"


def test_axe_finds_no_serious_or_critical_violation_light_or_dark(demo: Any, open_as: Any) -> None:
    pages = _main_pages()
    found = []
    for scheme in ("light", "dark"):
        page = open_as("demo", bypass_csp=True, color_scheme=scheme)
        for path in pages:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
            for violation in result:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    found.append(f"{scheme} {path}: {violation['id']} {targets}")
    assert not found, "\n".join(found)


def test_the_billing_map_names_every_demo_organization(demo: Any, open_as: Any) -> None:
    page = open_as("viewer")
    page.goto("/")
    page.click("nav >> text=Billing map")
    svg = page.locator("svg.billing-map")
    assert svg.get_attribute("role") == "img" and svg.locator("desc").count() == 1
    drawn = svg.text_content() or ""
    for organization in demo.summary()["organizations"]:
        assert organization["name"] in drawn, organization["name"]
    assert page.locator("svg.billing-map g.edge").count() >= 1
    assert not page.errors


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
