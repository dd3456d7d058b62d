"""Regenerate the bundled candle sample from the shared Binance BTCUSDT 5m file.

The sample is the header plus every row from 2025-11-19 00:00 UTC to the end of the
shared file, copied byte for byte, then gzip'd with a fixed timestamp so that the output
is reproducible.  Usage::

    uv run python scripts/make_sample.py \\
        ../shared/data/btcusdt_perp_binance_5m_20241231_20260219.csv.gz

The script checks the source's sha256, the sample's content sha256 and row count, and
compares the written file with the sha256 recorded in `src/adxbot/data/README.md`.
Exit status: 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

SOURCE_SHA256 = "51dbf6b8c80a85d380fa450b1fedfa689b9f7415b19f5284ca3b8af582cffe1c"
FIRST_OPEN_TIME_MS = 1763510400000  # 2025-11-19 00:00:00 UTC
EXPECTED_ROWS = 26_700
EXPECTED_CSV_SHA256 = "b98addf7f5aa706c6ed259f56c7f9e17e1bbadf44614f78b6049fb8b804c9c03"
EXPECTED_GZ_SHA256 = "f2b0794a05f03a0cd3c7f25a2466dfe91ac78848385f355842f34b143dd2f9cb"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/adxbot/data/btcusdt_5m_sample.csv.gz"


def cut_sample(source_csv: bytes) -> tuple[bytes, int]:
    """Return the header and the rows from `FIRST_OPEN_TIME_MS` on, unchanged, and the row count."""
    lines = source_csv.splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    first = next(
        i for i, row in enumerate(rows) if int(row.split(b",", 1)[0]) >= FIRST_OPEN_TIME_MS
    )
    kept = rows[first:]
    return header + b"".join(kept), len(kept)


def main(argv: list[str] | None = None) -> int:
    """Write the sample and report whether every checksum matches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the shared btcusdt_perp_binance_5m_*.csv.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the sample")
    args = parser.parse_args(argv)

    source = args.source.read_bytes()
    if (digest := hashlib.sha256(source).hexdigest()) != SOURCE_SHA256:
        return _fail(f"source sha256 is {digest}, expected {SOURCE_SHA256}: not the same file")
    sample_csv, n_rows = cut_sample(gzip.decompress(source))
    if n_rows != EXPECTED_ROWS:
        return _fail(f"cut {n_rows} rows, expected {EXPECTED_ROWS}")
    if (digest := hashlib.sha256(sample_csv).hexdigest()) != EXPECTED_CSV_SHA256:
        return _fail(f"sample content sha256 is {digest}, expected {EXPECTED_CSV_SHA256}")

    sample_gz = gzip.compress(sample_csv, compresslevel=9, mtime=0)
    args.out.write_bytes(sample_gz)
    _say(f"wrote {args.out} ({n_rows} rows, {len(sample_gz)} bytes)")
    if (digest := hashlib.sha256(sample_gz).hexdigest()) != EXPECTED_GZ_SHA256:
        # The rows are verified above; only the compressor's output differs.
        return _fail(
            f"the .csv.gz sha256 is {digest}, expected {EXPECTED_GZ_SHA256}; the content is "
            "identical, so this zlib build compresses differently"
        )
    _say(f"sha256 {digest} (content {EXPECTED_CSV_SHA256}): as recorded")
    return 0


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")


def _fail(message: str) -> int:
    sys.stderr.write(f"make_sample: {message}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
