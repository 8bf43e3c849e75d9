"""The one CSV format behind every export (audit, transfers, handshakes) and `export_audit`.

The format: UTF-8, comma-separated, LF line ends, a cell quoted (with doubled quotes inside)
only when it holds , " CR or LF, None as an empty cell, a time in ISO 8601 in UTC with its zone
said (`2025-07-01T00:00:00Z`: a spreadsheet in another zone must not guess), and a text cell that a spreadsheet would
read as a formula led by a single quote: one that starts with a tab or a carriage return, or whose
first character after any leading whitespace and Unicode spaces (NBSP, U+3000, the BOM, LF, the
other Zs spaces, which spreadsheets trim: LibreOffice's "trim spaces") is = + - @ or one of their
full-width forms U+FF1D U+FF0B U+FF0D U+FF20.
That is PostgreSQL's own ``COPY ... (FORMAT csv)`` once the formulas are neutralized and empty
text made NULL, so there are two writers of the one format, byte for byte the same:

- `csv_chunks` / `csv_bytes`, in Python, for rows of any values;
- `copy_csv`, for a values queryset of text and integer columns on PostgreSQL: the database
  writes the CSV (cells neutralized in the SQL) and the bytes go out as they arrive.

Both stream: the header goes out before the query runs, then ~64 KB chunks, so the first byte is
immediate and memory stays flat at any size. Feed `csv_chunks` an iterator that fetches in chunks
(``queryset.values_list(...).iterator(chunk_size=...)``: a server-side cursor on PostgreSQL).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.db import connections
from django.db.models import CharField, Func, IntegerField, QuerySet, TextField
from django.http import HttpRequest, StreamingHttpResponse

from .events import record

# What a spreadsheet reads as the start of a formula, and what it skips before looking.
OPERATORS = "=+-@\uff1d\uff0b\uff0d\uff20"
LEADING_SPACES = (
    " \t\n\r\x0b\x0c\x85\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# Always neutralized, whatever follows (OWASP's list: a tab or CR can start a formula in some imports).
ALWAYS = "\t\r"
# The first characters of the cells that may need it: the cheap test before the full one.
FORMULA_STARTS = tuple(sorted(set(OPERATORS + LEADING_SPACES)))
_FORMULA = re.compile(f"[{ALWAYS}]|[{LEADING_SPACES}]*[{re.escape(OPERATORS)}]")
CHUNK_BYTES = 64 * 1024
_ROWS_PER_WRITE = 1000


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could read this text cell as a formula."""
    return text.startswith(FORMULA_STARTS) and _FORMULA.match(text) is not None


def neutralize(row: Sequence[Any]) -> list[Any]:
    """The row with every formula-looking text cell prefixed by a single quote."""
    return ["'" + cell if cell.__class__ is str and is_formula(cell) else cell for cell in row]


# A formula-looking cell anywhere in a column joined with (and led by) a separator: a literal
# first character lets the regex engine skip ahead instead of trying every position. A match may
# also start inside a cell holding the separator: it is only the cue to check the column's cells.
_SEPARATOR = "\x1f"
_FORMULA_IN_COLUMN = re.compile(f"\x1f(?:{_FORMULA.pattern})")
# What makes a cell quoted (as the csv module quotes with a CRLF terminator, and PostgreSQL).
_NEEDS_QUOTES = re.compile('[,"\r\n]')


def iso_utc(value: datetime) -> str:
    """A time as the CSV writes it: ISO 8601 in UTC, ended by Z (a naive time is taken as UTC)."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    return utc.replace(tzinfo=None).isoformat() + "Z"


class IsoUtc(Func):
    """A time column as the database's text in ISO 8601 UTC with a Z, for the exports that read
    times as text (the audit trail's, and COPY, which takes text columns only). PostgreSQL writes
    microseconds always; SQLite keeps what Django stored (no fraction when there was none)."""

    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return self.as_sql(compiler, connection, template="(replace(%(expressions)s, ' ', 'T') || 'Z')", **extra)


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    return iso_utc(cell) if isinstance(cell, datetime) else str(cell)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def _row_text(row: Sequence[Any]) -> str:
    """One row as a line (without its end), a cell at a time."""
    line = ",".join(_quoted(_text(cell)) for cell in neutralize(row))
    # A lone empty cell is written "" (as the csv module does), or the row would read as none.
    return '""' if len(row) == 1 and not line else line


def _column_text(column: tuple[Any, ...]) -> list[str]:
    """One column of a batch as CSV cells, neutralized.

    Each check runs once over the whole column at C speed; only a column that needs it (a None,
    a formula, a comma or quote) pays for a Python-level pass over its cells.
    """
    if datetime in set(map(type, column)):  # a time column (checked at C speed): ISO 8601 with Z
        texts = list(map(_text, column))
    else:
        texts = list(map(str, ["" if cell is None else cell for cell in column] if None in column else column))
    joined = _SEPARATOR + _SEPARATOR.join(texts)
    if _FORMULA_IN_COLUMN.search(joined) is not None:
        texts = [
            "'" + text if cell.__class__ is str and is_formula(text) else text
            for cell, text in zip(column, texts, strict=True)
        ]
    if _NEEDS_QUOTES.search(joined) is not None:
        texts = list(map(_quoted, texts))
    return texts


def _batch_text(batch: list[Sequence[Any]], buffer: io.StringIO) -> None:
    """Write a batch column by column: several times faster than a cell at a time.

    Cells rarely need quoting, so most columns pass untouched. Rows of uneven width, or of a
    single column (where an empty cell is written ""), go a row at a time.
    """
    widths = set(map(len, batch))
    if len(widths) != 1 or widths.pop() < 2:
        lines = map(_row_text, batch)
    else:
        lines = map(",".join, zip(*[_column_text(column) for column in zip(*batch, strict=True)], strict=True))
    buffer.write("\n".join(lines))
    buffer.write("\n")


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """The CSV text in pieces of about `chunk_bytes`: the header alone first, then the rows.

    Each line is what ``csv.writer`` writes for the neutralized row (QUOTE_MINIMAL, None as an
    empty cell, other values with `str()`), ended by LF instead of CRLF.
    """
    yield _row_text(header) + "\n"
    buffer = io.StringIO()
    iterator = iter(rows)
    while batch := list(islice(iterator, _ROWS_PER_WRITE)):
        _batch_text(batch, buffer)
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """`csv_chunks` encoded in UTF-8."""
    for chunk in csv_chunks(header, rows):
        yield chunk.encode("utf-8")


def _sql_class(characters: str) -> str:
    """A PostgreSQL regex bracket expression of these characters, spelled as \\uXXXX escapes so
    the SQL text holds none of them."""
    return "[" + "".join(f"\\u{ord(c):04x}" for c in characters) + "]"


_SQL_FORMULA = f"^({_sql_class(ALWAYS)}|{_sql_class(LEADING_SPACES)}*{_sql_class(OPERATORS)})"
_SQL_STARTS = ", ".join(str(ord(start)) for start in FORMULA_STARTS)


def _sql_cell(column: str) -> str:
    """SQL for a text column as the Python writer writes it: a formula-looking cell led by a
    quote, an empty one NULL (COPY writes '' as "", NULL as nothing)."""
    # Most cells start with something else (a letter, a digit): one ascii() settles them, and the
    # regex runs only on cells led by an operator or a space.
    return (
        f"CASE WHEN ascii({column}) IN ({_SQL_STARTS}) AND {column} ~ '{_SQL_FORMULA}' THEN '''' || {column} "
        f"ELSE NULLIF({column}, '') END"
    )


def _outer_order(values: QuerySet[Any], names: list[str]) -> str:
    """The queryset's ORDER BY in terms of its own columns, so the wrapping query keeps the order."""
    fields = list(values._fields)  # type: ignore[attr-defined]
    query = values.query
    terms = []
    for term in query.order_by or (query.get_meta().ordering if query.default_ordering else None) or ():
        if not isinstance(term, str) or term.removeprefix("-") not in fields:
            raise ValueError(f"copy_csv orders only by selected columns, not {term!r}")
        terms.append(names[fields.index(term.removeprefix("-"))] + (" DESC" if term.startswith("-") else ""))
    return f" ORDER BY {', '.join(terms)}" if terms else ""


def copy_csv(header: Sequence[str], values: QuerySet[Any], *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """PostgreSQL writes `values` (a ``values_list`` queryset) as the CSV `csv_bytes` would write.

    The ORM compiles the query (filters and all); COPY wraps it, neutralizing its text columns.
    The rows must be text or integers, whose database text is what `str()` gives, and at least
    two (COPY writes a lone empty cell as nothing). PostgreSQL sends while we write (the socket
    is the only buffer); its one-row messages are gathered into chunks of about `chunk_bytes`.
    """
    compiler = values.query.get_compiler(using=values.db)
    sql, params = compiler.as_sql()
    names = [f"c{n}" for n in range(len(compiler.select))]
    cells = []
    for name, (expression, _sql, _alias) in zip(names, compiler.select, strict=True):
        field = expression.output_field
        if not isinstance(field, CharField | TextField | IntegerField):
            raise ValueError(f"copy_csv writes text and integer columns, not {field.__class__.__name__}")
        cells.append(name if isinstance(field, IntegerField) else _sql_cell(name))
    if len(cells) < 2:
        raise ValueError("copy_csv writes two columns or more")
    # Nothing here comes from a request: the ORM's SQL (its values are bound as `params`) and our own names.
    select = f"SELECT {', '.join(cells)} FROM ({sql}) AS export ({', '.join(names)}){_outer_order(values, names)}"  # noqa: S608
    query = f"COPY ({select}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')"
    yield from csv_bytes(header, ())  # before the query runs
    chunk = bytearray()
    with connections[values.db].cursor() as cursor, cursor.cursor.copy(query, params) as copy:
        for data in copy:
            chunk += data
            if len(chunk) >= chunk_bytes:
                yield bytes(chunk)
                chunk.clear()
    if chunk:
        yield bytes(chunk)


def safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "export"
    return cleaned if cleaned.endswith(".csv") else f"{cleaned}.csv"


def stream_csv(
    request: HttpRequest,
    *,
    filename: str,
    body: Iterable[bytes],
    audit_params: Mapping[str, Any],
    connection: Any = None,
) -> StreamingHttpResponse:
    """Audit the export (action "export", params = the filters) and stream `body` as a CSV download.

    `body` is the CSV from `csv_bytes` or `copy_csv`. The caller has already checked the user
    may export these rows. `body` is consumed lazily, while the response is being sent.
    """
    name = safe_filename(filename)
    record(
        action="export",
        request=request,
        connection=connection,
        resource=name,
        params=dict(audit_params),
    )
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
