"""Loading candle CSV files: the bundled sample, the shared real file, and every bad input."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adxbot.domain.candles import CandleSeries
from adxbot.errors import CandleDataError
from adxbot.market.candle_file import HEADER, bundled_sample_path, load_candle_csv

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_FILE = SHARED_DATA / "btcusdt_perp_binance_5m_20241231_20260219.csv.gz"
FIVE_MINUTES_MS = 300_000
T0 = 1_735_603_200_000  # 2024-12-31 00:00 UTC


def _row(open_time_ms: int, price: str = "100.5", volume: str = "1.25") -> str:
    return f"{open_time_ms},{price},{price},{price},{price},{volume}"


def _good_rows(n: int, start: int = T0) -> list[str]:
    return [_row(start + i * FIVE_MINUTES_MS) for i in range(n)]


def _write(path: Path, lines: list[str], *, gzipped: bool = False) -> Path:
    text = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(text) if gzipped else text)
    return path


def _error_for(path: Path) -> CandleDataError:
    with pytest.raises(CandleDataError) as caught:
        load_candle_csv(path)
    return caught.value


def _reference_load(path: Path) -> CandleSeries:
    """Parse with the csv module and float(): the meaning the fast loader must reproduce."""
    with gzip.open(path, "rt", newline="") as file:
        reader = csv.reader(file)
        next(reader)
        rows = [
            (int(t), float(o), float(h), float(lo), float(c), float(v))
            for t, o, h, lo, c, v in reader
        ]
    return CandleSeries.from_rows(rows)


def _assert_same(actual: CandleSeries, expected: CandleSeries) -> None:
    assert actual.open_time_ms.dtype == np.int64
    for name in ("open_time_ms", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(actual, name), getattr(expected, name)), name
    assert actual.open.dtype == np.float64


# --- real data ---------------------------------------------------------------------------


def test_load_bundled_sample_then_three_months_of_candles_with_exact_prices() -> None:
    series = load_candle_csv(bundled_sample_path())

    assert len(series) == 26_700
    assert series.open_time_ms[0] == 1_763_510_400_000  # 2025-11-19 00:00 UTC
    assert series.open_time_ms[-1] == 1_771_520_100_000  # 2026-02-19 16:55 UTC
    assert (np.diff(series.open_time_ms) == FIVE_MINUTES_MS).all()
    # First row: 1763510400000,92916.8,92944.8,92610.0,92639.3,517.991
    first = (series.open[0], series.high[0], series.low[0], series.close[0], series.volume[0])
    assert first == (92916.8, 92944.8, 92610.0, 92639.3, 517.991)
    assert repr(float(series.close[-1])) == "66267.6"


def test_load_bundled_sample_then_every_value_equals_python_float_parsing() -> None:
    path = bundled_sample_path()

    _assert_same(load_candle_csv(path), _reference_load(path))


def test_load_bundled_sample_then_progress_reports_start_and_end() -> None:
    path = bundled_sample_path()
    calls: list[tuple[int, int]] = []

    load_candle_csv(path, on_progress=lambda done, total: calls.append((done, total)))

    size = path.stat().st_size
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_FILE.exists(), reason=f"shared candle file absent: {SHARED_FILE}")
def test_load_shared_full_file_then_all_rows_exact_with_progress_every_mib() -> None:
    calls: list[tuple[int, int]] = []

    series = load_candle_csv(SHARED_FILE, on_progress=lambda d, t: calls.append((d, t)))

    assert len(series) == 119_724
    assert series.open_time_ms[0] == 1_735_603_200_000
    assert series.open_time_ms[-1] == 1_771_520_100_000
    assert (np.diff(series.open_time_ms) == FIVE_MINUTES_MS).all()
    _assert_same(series, _reference_load(SHARED_FILE))
    size = SHARED_FILE.stat().st_size
    assert [done for done, _ in calls] == [0, 1 << 20, 2 << 20, size]
    assert all(total == size for _, total in calls)


# --- file kinds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gzipped"),
    [
        ("candles.csv", True),
        ("candles", True),
        ("candles.csv", False),
        ("candles.csv.gz", False),
    ],
)
def test_load_when_gzip_or_plain_under_any_name_then_detected_by_content(
    tmp_path: Path, name: str, gzipped: bool
) -> None:
    path = _write(tmp_path / name, [HEADER, *_good_rows(3)], gzipped=gzipped)

    series = load_candle_csv(path)

    assert series.open_time_ms.tolist() == [T0, T0 + FIVE_MINUTES_MS, T0 + 2 * FIVE_MINUTES_MS]
    assert series.close.tolist() == [100.5, 100.5, 100.5]


def test_load_when_crlf_line_endings_then_same_values_as_lf(tmp_path: Path) -> None:
    lines = [HEADER, *_good_rows(4)]
    lf = _write(tmp_path / "lf.csv", lines)
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(lf.read_bytes().replace(b"\n", b"\r\n"))

    _assert_same(load_candle_csv(crlf), load_candle_csv(lf))


def test_load_when_last_row_has_no_newline_then_it_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("\n".join([HEADER, *_good_rows(2)]))

    assert len(load_candle_csv(path)) == 2


def test_load_when_time_gap_then_kept_and_not_filled(tmp_path: Path) -> None:
    rows = [_row(T0), _row(T0 + FIVE_MINUTES_MS), _row(T0 + 10 * FIVE_MINUTES_MS)]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    series = load_candle_csv(path)

    assert series.open_time_ms.tolist() == [T0, T0 + FIVE_MINUTES_MS, T0 + 10 * FIVE_MINUTES_MS]


def test_load_when_numbers_use_exponents_then_parsed_like_float(tmp_path: Path) -> None:
    rows = [f"{T0},1e5,1.5E5,9.9e4,100000,2.5e-3", f"{T0 + FIVE_MINUTES_MS},.5,5.,0.5,0.5,0"]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    series = load_candle_csv(path)

    assert series.open.tolist() == [1e5, 0.5]
    assert series.high.tolist() == [1.5e5, 5.0]
    assert series.volume.tolist() == [2.5e-3, 0.0]


positive_prices = st.floats(min_value=1e-8, max_value=1e12, allow_subnormal=False)


@settings(max_examples=50, deadline=None)
@given(
    prices=st.lists(positive_prices, min_size=1, max_size=40),
    volume=st.floats(min_value=0, max_value=1e9),
)
def test_load_when_prices_are_any_repr_floats_then_values_are_bit_exact(
    tmp_path_factory: pytest.TempPathFactory, prices: list[float], volume: float
) -> None:
    rows = [
        f"{T0 + i * FIVE_MINUTES_MS},{p!r},{p!r},{p!r},{p!r},{volume!r}"
        for i, p in enumerate(prices)
    ]
    path = _write(tmp_path_factory.mktemp("prop") / "c.csv", [HEADER, *rows])

    series = load_candle_csv(path)

    assert series.open.tolist() == prices
    assert series.volume.tolist() == [volume] * len(prices)


# --- validation: one test per problem ----------------------------------------------------


def test_load_when_header_wrong_then_error_on_line_1_names_expected_header(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "c.csv", ["time,open,high,low,close,volume", *_good_rows(2)])

    error = _error_for(path)

    assert error.row == 1
    assert "wrong header `time,open,high,low,close,volume`" in error.problem
    assert HEADER in error.problem
    assert str(error).startswith(f"{path}, line 1: ")


def test_load_when_header_missing_then_error_on_line_1_says_insert_header(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "c.csv", _good_rows(2))

    error = _error_for(path)

    assert error.row == 1
    assert "missing header" in error.problem
    assert f"insert `{HEADER}`" in error.problem


def test_load_when_row_has_wrong_number_of_fields_then_error_names_line(
    tmp_path: Path,
) -> None:
    rows = _good_rows(4)
    rows[2] = f"{T0 + 2 * FIVE_MINUTES_MS},100.5,100.5,100.5,1.25"
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert "expected 6 comma-separated fields" in error.problem
    assert "found 5" in error.problem


def test_load_when_blank_line_between_rows_then_error_names_line(tmp_path: Path) -> None:
    rows = _good_rows(3)
    path = _write(tmp_path / "c.csv", [HEADER, rows[0], "", *rows[1:]])

    error = _error_for(path)

    assert error.row == 3
    assert "empty line" in error.problem


def test_load_when_price_is_not_a_number_then_error_names_line_and_field(
    tmp_path: Path,
) -> None:
    rows = _good_rows(4)
    rows[1] = f"{T0 + FIVE_MINUTES_MS},100.5,abc,100.5,100.5,1.25"
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 3
    assert "high `abc` is not a number" in error.problem


def test_load_when_timestamp_is_not_a_number_then_error_names_line(tmp_path: Path) -> None:
    rows = _good_rows(3)
    rows[2] = _row(T0).replace(str(T0), "2025-01-01T00:00")
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert "open_time_ms `2025-01-01T00:00` is not a number" in error.problem


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_load_when_value_is_nan_or_infinite_then_error_names_line(tmp_path: Path, bad: str) -> None:
    rows = _good_rows(3)
    rows[1] = f"{T0 + FIVE_MINUTES_MS},100.5,100.5,100.5,100.5,{bad}"
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 3
    assert f"volume is `{bad}`; NaN and infinity are not allowed" in error.problem


@pytest.mark.parametrize(
    ("field", "ohlc", "bad"),
    [
        ("open", "0,1,0.5,1", "0.0"),
        ("high", "1,-2,0.5,1", "-2.0"),
        ("low", "1,1,0,1", "0.0"),
        ("close", "1,1,0.5,-0.0", "-0.0"),
    ],
)
def test_load_when_price_not_positive_then_error_names_line_and_field(
    tmp_path: Path, field: str, ohlc: str, bad: str
) -> None:
    rows = [*_good_rows(2), f"{T0 + 2 * FIVE_MINUTES_MS},{ohlc},1.25"]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert f"{field} must be positive, found {bad}" in error.problem


def test_load_when_volume_negative_then_error_names_line(tmp_path: Path) -> None:
    rows = _good_rows(3)
    rows[0] = _row(T0, volume="-0.001")
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 2
    assert "volume must not be negative, found -0.001" in error.problem


def test_load_when_high_below_open_or_close_then_error_names_line(tmp_path: Path) -> None:
    rows = [*_good_rows(2), f"{T0 + 2 * FIVE_MINUTES_MS},100,100.5,99,100.7,1"]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert "high 100.5 is below max(open, close) = 100.7" in error.problem


def test_load_when_low_above_open_or_close_then_error_names_line(tmp_path: Path) -> None:
    rows = [*_good_rows(2), f"{T0 + 2 * FIVE_MINUTES_MS},100,101,99.5,99.4,1"]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert "low 99.5 is above min(open, close) = 99.4" in error.problem


@pytest.mark.parametrize("bad", ["1735603500000.0", "1735603500000.5", "1.7356035e12"])
def test_load_when_timestamp_not_an_integer_then_error_names_line(tmp_path: Path, bad: str) -> None:
    rows = [_row(T0), _row(T0).replace(str(T0), bad)]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 3
    assert f"open_time_ms `{bad}` is not an integer" in error.problem


def test_load_when_timestamp_duplicated_then_error_names_both_lines(tmp_path: Path) -> None:
    rows = _good_rows(4)
    rows[2] = rows[1]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert f"duplicated open_time_ms {T0 + FIVE_MINUTES_MS}: line 3 has the same one" in (
        error.problem
    )


def test_load_when_timestamps_unsorted_then_error_names_both_lines(tmp_path: Path) -> None:
    rows = _good_rows(4)
    rows[1], rows[2] = rows[2], rows[1]
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    error = _error_for(path)

    assert error.row == 4
    assert (
        f"open_time_ms {T0 + FIVE_MINUTES_MS} on line 4 is earlier than "
        f"{T0 + 2 * FIVE_MINUTES_MS} on line 3" in error.problem
    )
    assert "sort the rows" in error.problem


def test_load_when_bad_row_deep_in_large_gzip_file_then_error_names_its_line(
    tmp_path: Path,
) -> None:
    rows = _good_rows(5000)
    rows[3210] = _row(T0 + 3210 * FIVE_MINUTES_MS, volume="-1")
    path = _write(tmp_path / "c.csv.gz", [HEADER, *rows], gzipped=True)

    error = _error_for(path)

    assert error.row == 3212
    assert "volume must not be negative" in error.problem


def test_load_when_file_is_empty_then_error_says_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"")

    error = _error_for(path)

    assert error.row == 0
    assert "the file is empty" in error.problem
    assert HEADER in error.problem


@pytest.mark.parametrize("gzipped", [False, True])
def test_load_when_header_but_no_rows_then_error_says_no_candles(
    tmp_path: Path, gzipped: bool
) -> None:
    path = _write(tmp_path / "c.csv", [HEADER], gzipped=gzipped)

    error = _error_for(path)

    assert error.row == 0
    assert "no candles" in error.problem


def test_load_when_gzip_truncated_then_error_says_truncated(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv.gz", [HEADER, *_good_rows(500)], gzipped=True)
    path.write_bytes(path.read_bytes()[:-100])

    error = _error_for(path)

    assert error.row == 0
    assert "truncated" in error.problem


def test_load_when_file_missing_then_candle_data_error(tmp_path: Path) -> None:
    error = _error_for(tmp_path / "absent.csv.gz")

    assert error.row == 0
    assert "cannot read the file" in error.problem


def test_error_message_renders_path_and_line(tmp_path: Path) -> None:
    rows = _good_rows(2)
    rows[1] = rows[1].replace("1.25", "x")
    path = _write(tmp_path / "c.csv", [HEADER, *rows])

    assert str(_error_for(path)) == (
        f"{path}, line 3: volume `x` is not a number; write a decimal like 92759.3"
    )
