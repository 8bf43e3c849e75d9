"""Lists of cached rows: filters read from the query string, a sort, and keyset pagination.

The one helper behind the transfer and handshake lists: each describes itself as a `Listing`
(its model, filter form, filters, sorts) and this module does the rest. Why keyset and not
OFFSET: page 50 of 100,000 handshakes costs the same as page 1 (the database seeks to the cursor
through an index instead of counting past 2,450 rows), and a row inserted by a sync while someone
pages does not shift every later page by one. The cursor names the last (or first) row shown —
its sort value and primary key — and lives in the URL, so a page can be bookmarked and shared.

Rows whose sort value is NULL (a transfer without a start yet) always come last, in both
directions, on SQLite and PostgreSQL alike (their native NULL orders differ).

Bad input is never a 500: a filter value the form refuses is dropped and explained in a notice,
and a cursor that does not decode (hand-edited, or from another sort) restarts at the first page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cmp_to_key
from typing import Any, Generic, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import QueryDict

from .forms import form_field
from .history import CachedAwsObject
from .models import AwsConnection

M = TypeVar("M", bound=models.Model)
C = TypeVar("C", bound=CachedAwsObject)
F = TypeVar("F", bound="ListFilters")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Sort:
    """One way to order a list: its URL value (`start`), the model field and a label."""

    key: str
    field: str
    label: str


@dataclass(frozen=True)
class Ordering:
    """A sort plus its direction, as the URL spells it: `start` or `-start`."""

    sort: Sort
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.sort.key}" if self.descending else self.sort.key

    def toggled(self) -> str:
        """The URL value of the same sort in the other direction (a column header's link)."""
        return self.sort.key if self.descending else f"-{self.sort.key}"


def parse_ordering(value: str | None, sorts: Sequence[Sort], default: str) -> tuple[Ordering, str | None]:
    """The ordering the URL asks for, or the default and a notice saying why not."""
    by_key = {sort.key: sort for sort in sorts}
    notice = None
    raw = (value or "").strip() or default
    descending = raw.startswith("-")
    sort = by_key.get(raw.removeprefix("-"))
    if sort is None:
        notice = f"Ignored sort “{raw}”: choose one of {', '.join(by_key)}."
        descending = default.startswith("-")
        sort = by_key[default.removeprefix("-")]
    return Ordering(sort, descending), notice


def sort_links(sorts: Sequence[Sort], ordering: Ordering) -> dict[str, str]:
    """For each sort key, the `sort` value its column header links to: the current column toggles
    its direction, another column starts descending (newest or last first)."""
    return {sort.key: ordering.toggled() if sort == ordering.sort else f"-{sort.key}" for sort in sorts}


class MultipleChoiceFilter(forms.MultipleChoiceField):
    """A repeatable filter (`?status=A&status=B`); an empty value (a select's "any") means none."""

    def to_python(self, value: Any) -> list[str]:
        return [v for v in super().to_python(value) if v != ""]


class ListFilters(forms.Form):
    """Base of a list's filter form, bound to its query string. Every field is optional; a refused
    value is ignored with a notice (`parse_filters`). Every list filters by connection (first) and
    by party and search text (last, as components/list_page.html shows them); a subclass declares
    its own filters, which come between."""

    connection = forms.TypedChoiceField(label="Connection", required=False, coerce=int, empty_value=None)
    party = forms.CharField(label="Party", required=False, max_length=254, strip=True)
    q = forms.CharField(label="Search", required=False, max_length=128, strip=True)

    def __init__(self, data: QueryDict, connections: list[AwsConnection]) -> None:
        super().__init__(data)
        self.order_fields([*(name for name in self.fields if name not in ("party", "q")), "party", "q"])
        form_field(self, "connection", forms.TypedChoiceField).choices = [("", "Every connection")] + [
            (c.pk, c.name) for c in connections
        ]


def parse_filters(form: forms.Form) -> tuple[dict[str, Any], list[str]]:
    """The filters a bound form accepts, and one notice per value it refused (ignored, not fatal)."""
    form.is_valid()
    notices = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name if name in form.fields else name
        notices.append(f"Ignored the {str(label).lower()} filter: {' '.join(str(e) for e in errors)}")
    cleaned = {name: value for name, value in form.cleaned_data.items() if value not in (None, "", [], ())}
    return cleaned, notices


def apply_filters(queryset: QuerySet[M], filters: dict[str, Any], lookups: dict[str, str]) -> QuerySet[M]:
    """`queryset` narrowed by each accepted filter that `lookups` maps to a lookup
    (`{"state": "state__in"}`), in the order of `lookups`; other filters are the caller's."""
    for name, lookup in lookups.items():
        if name in filters:
            queryset = queryset.filter(**{lookup: filters[name]})
    return queryset


# --- the cursor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in a list: the sort value and pk of one row, and which way to read from it."""

    sort: str  # the ordering's URL value, so a cursor of another sort is refused
    value: Any
    pk: int
    backwards: bool = False

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.sort, value, self.pk, int(self.backwards)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, ordering: Ordering, model_field: models.Field[Any, Any]) -> Cursor:
        """The cursor in `token`; ValueError when it is not one of this ordering's cursors."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort, value, pk, backwards = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError("not a cursor") from exc
        if sort != ordering.param or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError("a cursor of another list or sort")
        if value is not None:
            if not isinstance(value, str | int | float):
                raise ValueError("not a cursor value")
            try:
                value = model_field.to_python(value)
            except ValidationError as exc:
                raise ValueError("not a cursor value") from exc
        return cls(sort=sort, value=value, pk=pk, backwards=bool(backwards))


@dataclass
class Page(Generic[M]):
    rows: list[M]
    ordering: Ordering
    next_cursor: str | None = None
    previous_cursor: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None


def _past(f: str, op: str, cursor: Cursor) -> Q:
    """Rows past the cursor's row in the direction `op` ("lt" or "gt"): (f, pk) op (value, pk).

    Written as `f op= value AND (f op value OR pk op cursor pk)` rather than the plain OR: the
    first term is a range on the index's leading column, so the database starts its walk at the
    cursor (SQLite read 2,450 rows to reach page 50 without it: 450 ms)."""
    return Q(**{f"{f}__{op}e": cursor.value}) & (Q(**{f"{f}__{op}": cursor.value}) | Q(**{f"pk__{op}": cursor.pk}))


def _display_cmp(f: str, descending: bool) -> Callable[[Any, Any], int]:
    """Compare two rows as the database orders them for the page: by `f` (NULL last in both
    directions), ties by pk in the same direction. Used to merge the partitions of a split read."""

    def cmp(a: Any, b: Any) -> int:
        va, vb = getattr(a, f), getattr(b, f)
        if va is None or vb is None:
            if va is not None or vb is not None:
                return 1 if va is None else -1  # NULL last whatever the direction
            c = 0
        else:
            c = (va > vb) - (va < vb)
        if c == 0:
            c = (a.pk > b.pk) - (a.pk < b.pk)
        return -c if descending else c

    return cmp


def keyset_page(
    queryset: QuerySet[M],
    ordering: Ordering,
    token: str | None,
    *,
    size: int = PAGE_SIZE,
    split: tuple[str, Sequence[Any]] | None = None,
) -> Page[M]:
    """One page of `queryset` in `ordering`, starting at the cursor `token` (None: the first page).

    Runs one query (size + 1 rows, to know whether another page follows), and one more for a
    nullable sort when the page reaches the rows without a value. With `split`
    (a field and the several values a filter allows, e.g. two handshake states), it runs one
    such read per value instead and merges them: a database walks an index on
    (field, sort, id) in order for one value, but for `field IN (a, b)` it either sorts every
    matching row or walks the sort index past every row of the other values (150 ms on 100,000
    handshakes for the inbox's "open, by expiry"). The first size + 1 rows of the whole are
    among the first size + 1 of each part, so the merge is exact.
    """
    model_field = queryset.model._meta.get_field(ordering.sort.field)
    assert isinstance(model_field, models.Field)
    nullable = bool(model_field.null)
    f, descending = ordering.sort.field, ordering.descending
    notices: list[str] = []
    cursor: Cursor | None = None
    if token:
        try:
            cursor = Cursor.decode(token, ordering, model_field)
        except ValueError:
            notices.append("That page link is out of date or damaged: showing the first page.")

    # Display order: rows with a value by (f, pk) in the ordering's direction, then the NULL rows
    # by pk in the same direction. Each part is read with a plain ORDER BY that an index on
    # (f, id) serves forwards or backwards on SQLite and PostgreSQL alike; a single
    # ORDER BY f DESC NULLS LAST would not (PostgreSQL's backward scan puts NULLs first, so it
    # sorted all 100,000 handshakes for every default page).
    backwards = cursor is not None and cursor.backwards
    later, earlier = ("lt", "gt") if descending else ("gt", "lt")
    order = [f"-{f}", "-pk"] if descending else [f, "pk"]  # display order
    reverse = [f, "pk"] if descending else [f"-{f}", "-pk"]  # reading backwards

    def valued(qs: QuerySet[M]) -> QuerySet[M]:
        return qs.filter(**{f"{f}__isnull": False}) if nullable else qs

    def nulls(qs: QuerySet[M]) -> QuerySet[M]:
        return qs.filter(**{f"{f}__isnull": True})

    def read(qs: QuerySet[M]) -> list[M]:
        """Up to size + 1 rows from the cursor on, in reading order (reversed when backwards)."""
        if cursor is None or not cursor.backwards:
            if cursor is not None and cursor.value is None:  # already in the NULL tail
                return list(nulls(qs).filter(**{f"pk__{later}": cursor.pk}).order_by(order[1])[: size + 1])
            part = valued(qs)
            if cursor is not None:
                part = part.filter(_past(f, later, cursor))
            found = list(part.order_by(*order)[: size + 1])
            if nullable and len(found) <= size:  # the page reaches the NULL tail
                found += nulls(qs).order_by(order[1])[: size + 1 - len(found)]
            return found
        if cursor.value is None:
            found = list(nulls(qs).filter(**{f"pk__{earlier}": cursor.pk}).order_by(reverse[1])[: size + 1])
            if len(found) <= size:  # back past the first NULL row into the valued rows
                found += valued(qs).order_by(*reverse)[: size + 1 - len(found)]
            return found
        part = valued(qs).filter(_past(f, earlier, cursor))
        return list(part.order_by(*reverse)[: size + 1])

    if split is not None and len(split[1]) > 1:
        split_field, values = split
        parts = [read(queryset.filter(**{split_field: value})) for value in values]
        # Reading backwards, each part is in reverse display order: merge the same way.
        merged = sorted(
            (row for part in parts for row in part), key=cmp_to_key(_display_cmp(f, descending)), reverse=backwards
        )
        found = merged[: size + 1]
    else:
        found = read(queryset)

    if backwards:
        has_previous = len(found) > size
        rows = list(reversed(found[:size]))
        has_next = True  # the cursor's own row follows
    else:
        rows = found[:size]
        has_next = len(found) > size
        has_previous = cursor is not None

    page: Page[M] = Page(rows=rows, ordering=ordering, notices=notices)
    if rows and has_next:
        last = rows[-1]
        page.next_cursor = Cursor(ordering.param, getattr(last, f), last.pk).encode()
    if rows and has_previous:
        first = rows[0]
        page.previous_cursor = Cursor(ordering.param, getattr(first, f), first.pk, backwards=True).encode()
    return page


# --- one list ----------------------------------------------------------------------------------


@dataclass
class ListResult(Generic[C, F]):
    """One page of a list as its query string asks."""

    form: F
    filters: dict[str, Any]
    page: Page[C]
    connections: list[AwsConnection]  # the connections the rows come from (for freshness)
    notices: list[str]

    @property
    def filtered(self) -> bool:
        return bool(self.filters)


@dataclass(frozen=True)
class Listing(Generic[C, F]):
    """A list page of cached rows (`model` has a `connection`): how its query string filters
    the rows, how it sorts them, and what each page loads beside them."""

    model: type[C]
    # The filter form of the query string, bound to it and to the user's connections.
    form: Callable[[QueryDict, list[AwsConnection]], F]
    # Narrows the rows by the filters the form accepted.
    apply: Callable[[QuerySet[C], dict[str, Any], list[AwsConnection]], QuerySet[C]]
    sorts: tuple[Sort, ...]
    default_sort: str
    # Attaches what rows show beside their own fields (party names), one query for the page.
    annotate: Callable[[list[C], list[AwsConnection]], None]
    # Fields the list does not show (large JSON): left in the database.
    defer: tuple[str, ...] = ()
    # A multiple-choice filter to read as one indexed walk per value (see `keyset_page`).
    split_on: str | None = None

    def filtered(
        self, *, connections: list[AwsConnection], params: QueryDict
    ) -> tuple[QuerySet[C], F, dict[str, Any], list[str]]:
        """The one parse of the list's query string, shared by the list page and its CSV export
        so both show the same rows: the rows of `connections` that pass the accepted filters, the
        bound form, the accepted values, and a notice per refused one."""
        form = self.form(params, connections)
        filters, notices = parse_filters(form)
        queryset = self.model._default_manager.filter(connection_id__in=[c.pk for c in connections])
        return self.apply(queryset, filters, connections), form, filters, notices

    def page(self, *, connections: list[AwsConnection], params: QueryDict) -> ListResult[C, F]:
        """One page of the list as the query string asks, for a user who may read `connections`.

        A fixed number of queries whatever the page size: the page (one, or one per value of a
        split filter), what `annotate` loads (one), and the party filter's name lookup when it
        names one.
        """
        queryset, form, filters, notices = self.filtered(connections=connections, params=params)
        ordering, sort_notice = parse_ordering(params.get("sort"), self.sorts, self.default_sort)
        if sort_notice:
            notices.append(sort_notice)
        queryset = queryset.select_related("connection")
        if self.defer:
            queryset = queryset.defer(*self.defer)
        split_on = self.split_on
        split = (split_on, filters[split_on]) if split_on and len(filters.get(split_on, ())) > 1 else None
        page = keyset_page(queryset, ordering, params.get("cursor"), split=split)
        notices += page.notices
        self.annotate(page.rows, connections)
        shown = [c for c in connections if c.pk == filters["connection"]] if "connection" in filters else connections
        return ListResult(form=form, filters=filters, page=page, connections=shown, notices=notices)
