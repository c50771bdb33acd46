"""Report writer speed and memory: our streaming XLSX writer against pandas ``to_excel``.

Same data for all: N rows x 6 text columns plus the 12 columns the report adds (every row
accepted, with a server result). Prints wall and CPU seconds and rows per CPU-second for ours,
pandas ``to_excel`` (xlsxwriter and openpyxl engines) and xlsxwriter's constant-memory mode, the
ratios on CPU time (steady on a shared machine; target: >= 3x), and the peak memory the writer
itself allocates (tracemalloc, in a separate pass) at two sizes, which should be flat in rows.

    .venv/bin/python bench/bench_report.py            # 100,000 rows, memory at 10k vs 100k
    .venv/bin/python bench/bench_report.py --rows 20000 --formats xlsx,csv,ods
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pandas as pd

from uploader.models import ColumnMapping, RowOutcome, RowStatus, Table, ValidationResult
from uploader.reporter import ADDED_COLUMNS, write_report

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eun-ji", "Fatima", "György", "Hiro", "Ines", "José"]
LAST = ["Smith", "García", "Nguyen", "Müller", "O'Brien", "Kowalski", "Tanaka", "Okafor"]
CITY = ["Austin", "São Paulo", "Zürich", "New York", "Kraków", "Lagos", "Osaka"]


def build(n: int, seed: int = 7) -> tuple[ValidationResult, dict[int, RowOutcome], dict]:
    rng = random.Random(seed)
    headers = ["Phone", "First Name", "Last Name", "Email", "City", "Appointment"]
    rows = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            [
                f"512-555-{i % 10_000:04d}",
                first,
                last,
                f"{first.lower()}.{last.lower()}{i}@example.com",
                rng.choice(CITY),
                f"2026-04-{1 + i % 28:02d} {9 + i % 8}:30, Dr. {rng.choice(LAST)}",
            ]
        )
    columns = [[r[j] for r in rows] for j in range(len(headers))]
    numbers = list(range(2, n + 2))
    refs = [f"m{i}" for i in range(n)]
    targets = [f"+1512555{i % 10_000:04d}" for i in range(n)]
    table = Table(Path("bench.xlsx"), "xlsx", None, headers, columns, numbers)
    validation = ValidationResult(
        table=table,
        mapping=ColumnMapping("Member", "Phone", tuple(headers[1:])),
        records=[],
        issues=[],
        statuses=["valid"] * n,
        targets_e164=targets,
        reference_ids=refs,
    )
    outcomes = {
        number: RowOutcome(number, RowStatus.ACCEPTED, "", ref, f"bench-{i // 10_000:03d}", tgt)
        for i, (number, ref, tgt) in enumerate(zip(numbers, refs, targets, strict=True))
    }
    results = {
        (f"bench-{i // 10_000:03d}", ref): {
            "reference_id": ref,
            "target": tgt,
            "request_status": rng.choice(["COMPLETED", "FAILED", "PENDING"]),
            "attempt_count": rng.randint(0, 3),
            "sent_at": "2026-03-14T00:00:00Z",
            "session_id": 1000 + i,
            "conversation_id": 5000 + i,
            "channel_manager_status": "COMPLETED",
            "insights_status": "PENDING",
        }
        for i, (ref, tgt) in enumerate(zip(refs, targets, strict=True))
    }
    return validation, outcomes, results


def as_frame(validation: ValidationResult, outcomes: dict, results: dict) -> pd.DataFrame:
    """The same cells as the report, for pandas (built outside the timed part)."""
    table = validation.table
    data: dict[str, Any] = dict(zip(table.headers, table.columns, strict=True))
    rows = []
    for number, ref in zip(table.row_numbers, validation.reference_ids, strict=True):
        o = outcomes[number]
        r = results[(o.batch_id, ref)]
        rows.append(
            [
                number,
                o.status.value,
                "",
                o.batch_id,
                o.target_e164,
                r["request_status"],
                r["attempt_count"],
                r["sent_at"],
                r["session_id"],
                r["conversation_id"],
                r["channel_manager_status"],
                r["insights_status"],
            ]
        )
    for j, name in enumerate(ADDED_COLUMNS):
        data[name] = [row[j] for row in rows]
    return pd.DataFrame(data)


def xlsxwriter_constant_memory(path: Path, frame: pd.DataFrame) -> None:
    """The same cells through xlsxwriter's constant-memory mode, every value typed explicitly."""
    import xlsxwriter

    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(str(path), options) as wb:
        ws = wb.add_worksheet("Report")
        for j, name in enumerate(frame.columns):
            ws.write_string(0, j, str(name))
        for i, row in enumerate(frame.itertuples(index=False, name=None), start=1):
            for j, value in enumerate(row):
                if isinstance(value, str):
                    ws.write_string(i, j, value)
                else:
                    ws.write_number(i, j, value)


def timed(fn: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is what to compare on a busy box."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def line(label: str, n: int, wall: float, cpu: float) -> str:
    return f"{label:<30} {wall:7.2f} s wall {cpu:7.2f} s CPU  {n / cpu:>10,.0f} rows/CPU-s"


def peak_mib(fn: Any) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="rows for the memory check")
    parser.add_argument("--formats", default="xlsx,csv", help="our formats to time")
    parser.add_argument("--no-pandas", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    n = args.rows
    print(f"building {n:,} rows x 6 text columns + {len(ADDED_COLUMNS)} report columns ...")
    validation, outcomes, results = build(n)

    ours: dict[str, float] = {}  # CPU seconds
    for fmt in args.formats.split(","):
        out = tmp / f"ours.{fmt}"
        wall, cpu = timed(lambda out=out: write_report(out, validation, outcomes, results))
        ours[fmt] = cpu
        size = out.stat().st_size / 2**20
        print(line(f"ours {fmt} ({size:.1f} MiB)", n, wall, cpu))

    if not args.no_pandas:
        frame = as_frame(validation, outcomes, results)
        for eng in ("xlsxwriter", "openpyxl"):
            out = tmp / f"pandas-{eng}.xlsx"
            wall, cpu = timed(lambda out=out, eng=eng: frame.to_excel(out, index=False, engine=eng))
            print(line(f"pandas to_excel ({eng})", n, wall, cpu))
            if "xlsx" in ours:
                print(f"  ratio ours/pandas[{eng}]: {cpu / ours['xlsx']:.1f}x faster (CPU time)")
        out = tmp / "xlsxwriter-cm.xlsx"
        wall, cpu = timed(lambda: xlsxwriter_constant_memory(out, frame))
        print(line("xlsxwriter constant_memory", n, wall, cpu))
        if "xlsx" in ours:
            print(f"  ratio ours/xlsxwriter-cm: {cpu / ours['xlsx']:.1f}x faster (CPU time)")
        del frame

    if "xlsx" in ours:
        small = build(args.small)
        big_peak = peak_mib(lambda: write_report(tmp / "m.xlsx", validation, outcomes, results))
        small_peak = peak_mib(lambda: write_report(tmp / "s.xlsx", *small))
        print(
            f"writer peak memory (tracemalloc): {args.small:,} rows {small_peak:.1f} MiB, "
            f"{n:,} rows {big_peak:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
