"""The browser tests reuse the action tests' orgsim scenes (payer, source, billing invitation)."""

from collections.abc import Iterator

import pytest

from tests.actions.conftest import billing_invitation, payer, source  # noqa: F401 - fixtures, by name


@pytest.fixture(scope="module", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API runs an event loop in the test's thread; the test's own ORM calls are
    # safe. Module-scoped because a module-scoped browser keeps its loop alive past each test, into
    # the database teardown (the flush after a transactional test). Undone when the module ends,
    # so the rest of the suite (and `check --deploy`) never sees it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield
