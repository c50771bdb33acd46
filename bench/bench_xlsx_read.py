"""XLSX read-and-validate speed on a 100,000-row workbook: ours against openpyxl reading alone.

The workbook is written by xlsxwriter the way Excel users make them (phone numbers typed as
numbers where they are digits, mixed formats elsewhere). "ours" is ``uploader.validate`` (calamine
read, cell-to-text, cleaning, mapping, E.164 and every check); "openpyxl" only reads the cells
(``read_only=True, values_only=True``), the usual first attempt. Target (issue 3): >= 120,000
rows/s for ours.

    .venv/bin/python bench/bench_xlsx_read.py
    .venv/bin/python bench/bench_xlsx_read.py --rows 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import write_xlsx


def _ours(path: Path) -> tuple[float, int, int]:
    from uploader import ReadOptions, validate

    start = time.perf_counter()
    result = validate(path, ReadOptions())
    return time.perf_counter() - start, result.table.n_rows, result.valid_count


def _openpyxl(path: Path) -> tuple[float, int]:
    import openpyxl

    start = time.perf_counter()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True)) - 1
    wb.close()
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.xlsx"
        start = time.perf_counter()
        write_xlsx(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.1f} MiB) "
            f"in {time.perf_counter() - start:.1f}s"
        )
        _ours(path)  # warm imports and metadata
        ours_s, rows, valid = min(_ours(path) for _ in range(args.repeat))
        base_s, base_rows = _openpyxl(path)
    print(
        f"ours    : read + validate {rows:,} rows in {ours_s:.2f}s = {rows / ours_s:,.0f} rows/s "
        f"({valid:,} valid)"
    )
    print(
        f"openpyxl: read only       {base_rows:,} rows in {base_s:.2f}s = "
        f"{base_rows / base_s:,.0f} rows/s"
    )
    print(f"ratio   : {base_s / ours_s:.1f}x faster (target: ours >= 120,000 rows/s)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
