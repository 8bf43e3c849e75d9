"""The CSV writer writes exactly what the csv module would write for the neutralized rows, with LF line ends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.csv import csv_chunks, iso_utc, neutralize

cells = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(alphabet=st.sampled_from(list("ab ,\"\r\n\t=+-@'ü\x1f;\u00a0\u3000\ufeff\uff1d\uff0b")), max_size=8),
    st.datetimes(timezones=st.just(UTC)),
    st.booleans(),
)


def reference(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The csv module's lines (with a CRLF terminator it quotes cells holding CR or LF), ended by LF,
    times written in ISO 8601 UTC with a Z."""
    lines = []
    for row in [header, *rows]:
        buffer = io.StringIO()
        cells = [iso_utc(cell) if isinstance(cell, datetime) else cell for cell in row]
        csv.writer(buffer, lineterminator="\r\n").writerow(neutralize(cells))
        lines.append(buffer.getvalue().removesuffix("\r\n") + "\n")
    return "".join(lines)


@settings(max_examples=300, deadline=None)
@given(width=st.integers(min_value=1, max_value=5), data=st.data())
def test_output_matches_the_csv_module_for_any_cells(width, data):
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=30))
    header = [f"c{n}" for n in range(width)]
    assert "".join(csv_chunks(header, rows, chunk_bytes=64)) == reference(header, rows)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(cells, min_size=1, max_size=4), max_size=20))
def test_rows_of_uneven_width_are_written_as_the_csv_module_would(rows):
    assert "".join(csv_chunks(["a", "b"], rows)) == reference(["a", "b"], rows)


def test_a_formula_cell_in_a_large_batch_is_neutralized_and_round_trips():
    rows = [(n, "ok", None, datetime(2026, 1, 1, tzinfo=UTC)) for n in range(2500)]
    rows[1234] = (1234, '=HYPERLINK("http://x","y")', None, datetime(2026, 1, 1, tzinfo=UTC))
    text = "".join(csv_chunks(["n", "text", "none", "when"], rows))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1235][1] == '\'=HYPERLINK("http://x","y")'
    assert parsed[1][2] == "" and len(parsed) == 2501


def test_times_carry_their_zone_in_iso_8601_with_z():
    from datetime import timedelta, timezone

    paris = timezone(timedelta(hours=2))
    rows = [(1, datetime(2026, 7, 1, 2, 0, tzinfo=paris)), (2, datetime(2026, 7, 1, 0, 0, 0, 5000, tzinfo=UTC))]
    text = "".join(csv_chunks(["n", "when"], rows))
    assert text == "n,when\n1,2026-07-01T00:00:00Z\n2,2026-07-01T00:00:00.005000Z\n"
    assert "".join(csv_chunks(["when"], [(datetime(2026, 1, 1, tzinfo=UTC),)])) == "when\n2026-01-01T00:00:00Z\n"
