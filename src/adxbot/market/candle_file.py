"""Load historical candles from a CSV file, plain or gzip'd, into a `CandleSeries`.

The format (see the bundled `adxbot/data/README.md`) is one header line, exactly
``open_time_ms,open,high,low,close,volume``, then one candle per line: the open time as
integer milliseconds since the epoch (UTC), prices and volume as decimal numbers.  Rows
must be strictly ascending in time; gaps are allowed and left as they are.

Reading is built for speed on the happy path and for precise messages on the other one:

1. the file is read in 1 MiB chunks (inflated on the fly when it starts with the gzip
   magic bytes, whatever its name), reporting progress after each chunk;
2. the rows are parsed at once with numpy, straight from the bytes: each field is cut
   out as a fixed-width window, its digits form an integer mantissa, and the price is
   that mantissa divided by a power of ten, a single correctly rounded operation on two
   exact numbers, hence bit for bit what ``float(text)`` returns;
3. the candles are checked with vectorised comparisons.

Anything the bulk parser does not recognise (exponents, blanks, CRLF, more than 2**53 in
a mantissa...) or any failed check sends the file through a line-by-line pass that
parses with ``int``/``float`` and raises `CandleDataError` on the first bad line, naming
the line (header = line 1), the problem and the fix.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from adxbot.domain.candles import CandleSeries, FloatArray, IntArray
from adxbot.errors import CandleDataError

HEADER = "open_time_ms,open,high,low,close,volume"
FIELDS = tuple(HEADER.split(","))
SAMPLE_FILE_NAME = "btcusdt_5m_sample.csv.gz"

_CHUNK_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_COMMA, _NEWLINE, _DOT, _MINUS, _ZERO = (ord(c) for c in ",\n.-0")
_MAX_FIELD_WIDTH = 18  # keeps the mantissa below 10**17, far inside int64
_MAX_EXACT_MANTISSA = 2**53  # every integer up to this is exact in float64
_POW10_INT = 10 ** np.arange(_MAX_FIELD_WIDTH + 1, dtype=np.int64)
_POW10_FLOAT = 10.0 ** np.arange(_MAX_FIELD_WIDTH + 1)  # exact up to 10**22
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

ProgressCallback = Callable[[int, int], None]
_Columns = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
_Row = tuple[int, float, float, float, float, float]

_resource_files = contextlib.ExitStack()
atexit.register(_resource_files.close)


def bundled_sample_path() -> Path:
    """Return the path of the bundled sample: the last 3 months of Binance BTCUSDT 5m candles."""
    resource = resources.files("adxbot") / "data" / SAMPLE_FILE_NAME
    if isinstance(resource, Path):
        return resource
    # Installed inside a zip archive: extract once and keep the copy until exit.
    return _resource_files.enter_context(resources.as_file(resource))


def load_candle_csv(path: Path, *, on_progress: ProgressCallback | None = None) -> CandleSeries:
    """Read a candle CSV (plain or gzip'd) and return its candles, validated.

    `on_progress(done_bytes, total_bytes)` is called with the bytes of the file read so
    far: once before reading, then after every MiB.  Raise `CandleDataError` naming the
    line and the fix when the file is unreadable, malformed or inconsistent.
    """
    text = _read_file(path, on_progress)
    text, first_row = _check_header(path, text)
    columns = _parse_fast(text, first_row)
    if columns is None or not _all_valid(columns):
        columns = _parse_checked(path, text[first_row:])
    times, opens, highs, lows, closes, volumes = columns
    return CandleSeries(
        open_time_ms=times, open=opens, high=highs, low=lows, close=closes, volume=volumes
    )


# --- reading -------------------------------------------------------------------------


def _read_file(path: Path, on_progress: ProgressCallback | None) -> bytes:
    report = on_progress or _ignore_progress
    parts: list[bytes] = []
    try:
        with path.open("rb") as file:
            total = os.fstat(file.fileno()).st_size
            report(0, total)
            chunk = file.read(_CHUNK_BYTES)
            inflater = _GzipInflater(path) if chunk.startswith(_GZIP_MAGIC) else None
            done = 0
            while chunk:
                parts.append(inflater.feed(chunk) if inflater else chunk)
                done += len(chunk)
                report(done, total)
                chunk = file.read(_CHUNK_BYTES)
    except OSError as e:
        raise CandleDataError(
            str(path), 0, f"cannot read the file ({e.strerror or e}); check the path"
        ) from e
    if inflater:
        inflater.finish()
    return b"".join(parts)


def _ignore_progress(done: int, total: int) -> None:
    pass


class _GzipInflater:
    """Inflate gzip data fed in chunks, across concatenated gzip members."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        parts: list[bytes] = []
        try:
            while data:
                parts.append(self._stream.decompress(data))
                data = self._stream.unused_data
                if data:  # a further gzip member follows the one just finished
                    self._stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        except zlib.error as e:
            raise CandleDataError(
                str(self._path), 0, f"the gzip data is corrupt ({e}); re-download or re-create it"
            ) from e
        return b"".join(parts)

    def finish(self) -> None:
        if not self._stream.eof:
            raise CandleDataError(
                str(self._path), 0, "the gzip data ends early (truncated); re-download the file"
            )


def _check_header(path: Path, text: bytes) -> tuple[bytes, int]:
    """Check the header line; return the text, ending with a newline, and its first row's offset."""
    if not text:
        raise CandleDataError(str(path), 0, f"the file is empty; expected the header `{HEADER}`")
    header, _, body = text.partition(b"\n")
    found = header.removeprefix(_UTF8_BOM).removesuffix(b"\r").decode("utf-8", "replace")
    if found != HEADER:
        problem = (
            f"missing header: the first line is `{_shorten(found)}`; insert `{HEADER}` above it"
            if found[:1].isdigit()
            else f"wrong header `{_shorten(found)}`; expected exactly `{HEADER}`"
        )
        raise CandleDataError(str(path), 1, problem)
    if not body.strip(b"\r\n"):
        raise CandleDataError(str(path), 0, "no candles: the file has a header but no rows")
    return (text if text.endswith(b"\n") else text + b"\n"), len(header) + 1


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --- fast path: numpy on the raw bytes -------------------------------------------------


def _parse_fast(text: bytes, first_row: int) -> _Columns | None:
    """Parse well-formed plain-decimal rows in bulk; None when anything looks unusual.

    The header line in front of the rows (39 bytes) pads the fixed-width windows.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    separators = first_row + np.flatnonzero(
        (buf[first_row:] == _COMMA) | (buf[first_row:] == _NEWLINE)
    )
    n_fields = len(FIELDS)
    if separators.size == 0 or separators.size % n_fields:
        return None
    kinds = buf[separators].reshape(-1, n_fields)
    if not ((kinds[:, :-1] == _COMMA).all() and (kinds[:, -1] == _NEWLINE).all()):
        return None
    starts = np.empty_like(separators)
    starts[0] = first_row
    starts[1:] = separators[:-1] + 1
    ends = separators.reshape(-1, n_fields)
    widths = ends - starts.reshape(-1, n_fields)

    times = _parse_integers(buf, ends[:, 0], widths[:, 0])
    if times is None:
        return None
    prices: list[FloatArray] = []
    for column in range(1, n_fields):
        values = _parse_decimals(buf, ends[:, column], widths[:, column])
        if values is None:
            return None
        prices.append(values)
    opens, highs, lows, closes, volumes = prices
    return times, opens, highs, lows, closes, volumes


def _parse_integers(
    buf: npt.NDArray[np.uint8], ends: IntArray, widths: IntArray
) -> IntArray | None:
    parsed = _parse_field_digits(buf, ends, widths, allow_dot=False)
    if parsed is None:
        return None
    mantissa, _, negative = parsed
    return np.where(negative, -mantissa, mantissa)


def _parse_decimals(
    buf: npt.NDArray[np.uint8], ends: IntArray, widths: IntArray
) -> FloatArray | None:
    parsed = _parse_field_digits(buf, ends, widths, allow_dot=True)
    if parsed is None:
        return None
    mantissa, fraction_digits, negative = parsed
    if mantissa.max() > _MAX_EXACT_MANTISSA:
        return None
    # Exact integer / exact power of ten, rounded once: the value float(text) gives.
    values = mantissa.astype(np.float64) / _POW10_FLOAT[fraction_digits]
    return np.where(negative, -values, values)


def _parse_field_digits(
    buf: npt.NDArray[np.uint8], ends: IntArray, widths: IntArray, *, allow_dot: bool
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]] | None:
    """Read `-?digits[.digits]` fields as (mantissa, digits after the dot, is negative).

    `ends` are the offsets in `buf` of the separator after each field; at least
    `_MAX_FIELD_WIDTH` bytes must precede the first field.
    """
    width = int(widths.max())
    if widths.min() < 1 or width > _MAX_FIELD_WIDTH:
        return None
    # One row per field, right-aligned: the field's bytes are the last `widths` ones.
    chars = sliding_window_view(buf, width)[ends - width]
    first = width - widths
    inside = np.arange(width) >= first[:, None]
    digits = chars - _ZERO  # uint8: every non-digit wraps to a value >= 10
    is_digit = (digits < 10) & inside
    is_dot = (chars == _DOT) & inside
    rows = np.arange(chars.shape[0])
    dot_column = is_dot.argmax(axis=1)
    has_dot = is_dot[rows, dot_column]
    negative = chars[rows, first] == _MINUS
    # Whole-array counts are fast; compared with the per-row flags they prove that each
    # field is one optional leading minus, digits and at most one dot, nothing else.
    n_dots = np.count_nonzero(is_dot)
    n_minus = np.count_nonzero((chars == _MINUS) & inside)
    n_signs = np.count_nonzero(negative)
    if (
        n_dots != np.count_nonzero(has_dot)
        or (n_dots and not allow_dot)
        or n_minus != n_signs
        or np.count_nonzero(is_digit) + n_dots + n_minus != widths.sum()
        or (widths - has_dot - negative < 1).any()  # no digit at all
    ):
        return None
    # Digits times their place, as if the dot were a zero digit; then close the gap.
    spread = (digits * is_digit).astype(np.int64) @ _POW10_INT[width - 1 :: -1]
    fraction_digits = np.where(has_dot, width - 1 - dot_column, 0)
    scale = _POW10_INT[fraction_digits]
    mantissa = np.where(has_dot, spread // (scale * 10) * scale + spread % scale, spread)
    return mantissa, fraction_digits, negative


def _all_valid(columns: _Columns) -> bool:
    """Apply every row check at once (the fast parser only produces finite numbers)."""
    times, opens, highs, lows, closes, volumes = columns
    return bool(
        (np.diff(times) > 0).all()
        and (np.minimum(np.minimum(opens, highs), np.minimum(lows, closes)) > 0).all()
        and (volumes >= 0).all()
        and (highs >= np.maximum(opens, closes)).all()
        and (lows <= np.minimum(opens, closes)).all()
    )


# --- careful path: line by line, for the exact error ---------------------------------


def _parse_checked(path: Path, body: bytes) -> _Columns:
    """Parse and check row by row with int()/float(); raise on the first bad line."""
    rows: list[_Row] = []
    lines = body.split(b"\n")[:-1]  # the body ends with a newline
    for line_no, line in enumerate(lines, start=2):
        row = _parse_row(line.removesuffix(b"\r"))
        if isinstance(row, str):
            raise CandleDataError(str(path), line_no, row)
        if rows and (problem := _order_problem(row[0], rows[-1][0], line_no)):
            raise CandleDataError(str(path), line_no, problem)
        rows.append(row)
    series = CandleSeries.from_rows(rows)
    return series.open_time_ms, series.open, series.high, series.low, series.close, series.volume


def _parse_row(line: bytes) -> _Row | str:
    """Return the row's values, or what is wrong with it."""
    if not line.strip():
        return f"empty line; remove it (every line after the header is one candle: {HEADER})"
    fields = line.split(b",")
    if len(fields) != len(FIELDS):
        return (
            f"expected {len(FIELDS)} comma-separated fields ({HEADER}), found {len(fields)}; "
            "fix or remove the row"
        )
    time_text = fields[0].decode("utf-8", "replace")
    try:
        open_time = int(fields[0])
    except ValueError:
        if _is_number(fields[0]):
            return (
                f"open_time_ms `{time_text}` is not an integer; write whole milliseconds "
                "since the epoch, e.g. 1735603200000"
            )
        return f"open_time_ms `{_shorten(time_text)}` is not a number"
    if not _INT64_MIN <= open_time <= _INT64_MAX:
        return f"open_time_ms {open_time} is out of range; write milliseconds since the epoch"
    values: list[float] = []
    for name, field in zip(FIELDS[1:], fields[1:], strict=True):
        text = field.decode("utf-8", "replace")
        try:
            value = float(field)
        except ValueError:
            return f"{name} `{_shorten(text)}` is not a number; write a decimal like 92759.3"
        if not math.isfinite(value):
            return f"{name} is `{text}`; NaN and infinity are not allowed, fix or drop the row"
        values.append(value)
    open_, high, low, close, volume = values
    for name, value in zip(FIELDS[1:5], values[:4], strict=True):
        if value <= 0:
            return f"{name} must be positive, found {value!r}; fix or drop the row"
    if volume < 0:
        return f"volume must not be negative, found {volume!r}; fix or drop the row"
    if high < max(open_, close):
        return (
            f"high {high!r} is below max(open, close) = {max(open_, close)!r}; "
            "the candle is inconsistent, fix or drop the row"
        )
    if low > min(open_, close):
        return (
            f"low {low!r} is above min(open, close) = {min(open_, close)!r}; "
            "the candle is inconsistent, fix or drop the row"
        )
    return open_time, open_, high, low, close, volume


def _order_problem(time: int, previous_time: int, line_no: int) -> str | None:
    if time == previous_time:
        return (
            f"duplicated open_time_ms {time}: line {line_no - 1} has the same one; "
            "remove one of the two rows"
        )
    if time < previous_time:
        return (
            f"timestamps out of order: open_time_ms {time} on line {line_no} is earlier than "
            f"{previous_time} on line {line_no - 1}; sort the rows by open_time_ms"
        )
    return None


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
