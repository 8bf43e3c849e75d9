"""The browser tests reuse the action tests' orgsim scenes (payer, source, billing invitation)."""

import pytest

from tests.actions.conftest import billing_invitation, payer, source  # noqa: F401 - fixtures, by name


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in the test's thread; the test's own ORM calls are
    # safe. Set per test, so the rest of the suite (and `check --deploy`) never sees it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
