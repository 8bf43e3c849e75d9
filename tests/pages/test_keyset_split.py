"""Keyset pages of a list filtered on several states are read one state at a time (an index walk
each) and merged: the pages must be exactly those of the one plain query, forward and back, in
every sort and direction, NULLs last and ties broken by id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from handshakes.models import Handshake
from handshakes.selectors import SORTS
from orgportal.listing import keyset_page, parse_ordering
from orgportal.models import AwsConnection

pytestmark = pytest.mark.django_db

STATES = ["OPEN", "REQUESTED"]


def walk(queryset, param: str, split: tuple | None) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Every pk going forward page by page, then going back from the last page."""
    ordering, _ = parse_ordering(param, SORTS, "-requested")
    forward: list[list[int]] = []
    token = None
    while True:
        page = keyset_page(queryset, ordering, token, size=4, split=split)
        forward.append([h.pk for h in page.rows])
        if not page.next_cursor:
            break
        token = page.next_cursor
    backward: list[list[int]] = []
    token = page.previous_cursor
    while token:
        page = keyset_page(queryset, ordering, token, size=4, split=split)
        backward.append([h.pk for h in page.rows])
        token = page.previous_cursor
    return [pk for p in forward for pk in p], [pk for p in reversed(backward) for pk in p]


@pytest.mark.parametrize("param", ["requested", "-requested", "expires", "-expires", "state", "-state", "-changed"])
def test_split_read_pages_equal_the_single_query_pages(
    param: str, synced: AwsConnection, make_handshake: Callable
) -> None:
    now = timezone.now()
    for n in range(23):
        make_handshake(
            synced,
            state=["OPEN", "REQUESTED", "ACCEPTED"][n % 3],
            # Ties (the same expiry for several rows) and NULLs on the nullable sort columns.
            expires_at=None if n % 7 == 0 else now + timedelta(days=n % 4),
            requested_at=None if n % 5 == 0 else now - timedelta(hours=n % 6),
        )
    queryset = Handshake.objects.filter(connection=synced, state__in=STATES)
    plain_forward, plain_back = walk(queryset, param, None)
    split_forward, split_back = walk(queryset, param, ("state", STATES))
    assert len(plain_forward) == len(set(plain_forward)) == 16
    # The display order, computed here: by the sort value (NULL last), ties by id, both in the
    # direction asked.
    field = {s.key: s.field for s in SORTS}[param.removeprefix("-")]
    rows = list(queryset)
    valued = sorted((h for h in rows if getattr(h, field) is not None), key=lambda h: (getattr(h, field), h.pk))
    empty = sorted((h for h in rows if getattr(h, field) is None), key=lambda h: h.pk)
    if param.startswith("-"):
        valued.reverse()
        empty.reverse()
    assert plain_forward == [h.pk for h in valued + empty]
    assert split_forward == plain_forward
    # Going back from the last page reads every row but the last page's, in the same order.
    assert split_back == plain_back == plain_forward[: len(plain_back)]
