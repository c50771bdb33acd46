"""XLSX read-and-validate speed on a 100,000-row workbook: ours against openpyxl reading alone.

The workbook is written by xlsxwriter the way Excel users make them (phone numbers typed as
numbers where they are digits, mixed formats elsewhere). "ours" is ``uploader.validate``
(fastexcel read to typed Arrow columns, cell-to-text, cleaning, mapping, E.164 and every check);
"ours, calamine path" is the same with the fast path switched off (what any workbook the fast path
declines costs); "openpyxl" only reads the cells (``read_only=True, values_only=True``), the usual
first attempt. Wall and CPU seconds are both shown (the machine is shared: CPU time is the steadier
figure). Target (issue 3): >= 120,000 rows/s for ours.

    .venv/bin/python bench/bench_xlsx_read.py
    .venv/bin/python bench/bench_xlsx_read.py --rows 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generated
from gen import write_xlsx


def _timed(run: Callable[[], tuple[int, int]]) -> tuple[float, float, int, int]:
    """(wall s, CPU s, rows, valid rows) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    rows, valid = run()
    return time.perf_counter() - wall, time.process_time() - cpu, rows, valid


def _ours(path: Path, *, fast: bool = True) -> tuple[int, int]:
    from uploader import ReadOptions, reader, validate

    saved = reader._read_xlsx_fast
    if not fast:
        reader._read_xlsx_fast = lambda *_args: None  # type: ignore[assignment]
    try:
        result = validate(path, ReadOptions())
    finally:
        reader._read_xlsx_fast = saved
    return result.table.n_rows, result.valid_count


def _openpyxl(path: Path) -> tuple[int, int]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True)) - 1
    wb.close()
    return rows, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = generated(Path(tmp) / "contacts.xlsx", args.rows, write_xlsx)
        _ours(path)  # warm imports and metadata
        _ours(path, fast=False)
        # Interleaved, so both paths see the same machine load; the best run of each is kept.
        fast_runs, slow_runs = [], []
        for _ in range(args.repeat):
            fast_runs.append(_timed(lambda: _ours(path)))
            slow_runs.append(_timed(lambda: _ours(path, fast=False)))
        fast, slow = min(fast_runs), min(slow_runs)
        base = _timed(lambda: _openpyxl(path))
    wall, cpu, rows, valid = fast
    # "ours", "openpyxl" and "ratio" lines keep the shape bench/run_all.py parses.
    print(
        f"ours    : read + validate {rows:,} rows in {wall:.2f}s = {rows / wall:,.0f} rows/s "
        f"(CPU {cpu:.2f}s = {rows / cpu:,.0f} rows/CPU-s; {valid:,} valid)"
    )
    print(
        f"ours, calamine path: read + validate {slow[2]:,} rows in {slow[0]:.2f}s = "
        f"{slow[2] / slow[0]:,.0f} rows/s "
        f"(CPU {slow[1]:.2f}s = {slow[2] / slow[1]:,.0f} rows/CPU-s)"
    )
    print(
        f"openpyxl: read only       {base[2]:,} rows in {base[0]:.2f}s = "
        f"{base[2] / base[0]:,.0f} rows/s (CPU {base[1]:.2f}s)"
    )
    print(
        f"ratio   : {base[0] / wall:.1f}x faster than openpyxl, {slow[0] / wall:.2f}x the calamine "
        f"path (target: ours >= 120,000 rows/s)"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
