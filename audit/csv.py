"""The one CSV writer behind every export (audit, transfers, handshakes) and `export_audit`.

Rows stream: the header goes out before the query runs, then ~64 KB chunks as rows arrive, so
the first byte is immediate and memory stays flat at any size. Feed it an iterator that fetches
in chunks (``queryset.values_list(...).iterator(chunk_size=...)``: a server-side cursor on
PostgreSQL). Cells are UTF-8, and a text cell that a spreadsheet would read as a formula (it
starts with = + - @, a tab or a carriage return) gets a leading single quote.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse

from .events import record

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
_ROWS_PER_WRITE = 500


def neutralize(row: Sequence[Any]) -> list[Any]:
    """The row with every formula-looking text cell prefixed by a single quote."""
    return [
        "'" + cell if cell.__class__ is str and cell.startswith(FORMULA_STARTS) else cell  # type: ignore[union-attr]
        for cell in row
    ]


# A formula-looking cell anywhere in a batch joined with (and led by) a separator: a literal
# first character lets the regex engine skip ahead instead of trying every position.
_SEPARATOR = "\x1f"
_FORMULA_IN_BATCH = re.compile("\x1f[=+\\-@\t\r]")


def _neutralized(batch: list[Sequence[Any]]) -> Iterable[Sequence[Any]]:
    """The batch, neutralized. Checking the whole batch in one C-speed pass first keeps clean
    batches (nearly all) from paying a Python-level check per cell."""
    if _FORMULA_IN_BATCH.search(_SEPARATOR + _SEPARATOR.join(map(str, chain.from_iterable(batch)))) is None:
        return batch
    return map(neutralize, batch)


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """The CSV text in pieces of about `chunk_bytes`: the header alone first, then the rows.

    None is written as an empty cell, other values with `str()` (by the csv module itself).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(neutralize(header))
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    iterator = iter(rows)
    while batch := list(islice(iterator, _ROWS_PER_WRITE)):
        writer.writerows(_neutralized(batch))
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


def safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "export"
    return cleaned if cleaned.endswith(".csv") else f"{cleaned}.csv"


def stream_csv(
    request: HttpRequest,
    *,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    audit_params: Mapping[str, Any],
    connection: Any = None,
) -> StreamingHttpResponse:
    """Audit the export (action "export", params = the filters) and stream `rows` as a CSV download.

    The caller has already checked the user may export these rows. `rows` is consumed lazily,
    while the response is being sent.
    """
    name = safe_filename(filename)
    record(
        action="export",
        request=request,
        connection=connection,
        resource=name,
        params=dict(audit_params),
    )
    response = StreamingHttpResponse(_encoded(csv_chunks(header, rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
