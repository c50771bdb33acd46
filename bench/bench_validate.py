"""Validation speed and memory on a 1,000,000-row CSV with mixed phone formats.

Ours (``uploader.validate``: read + clean + map + E.164 + every check) against the naive
validator people write first (``csv`` module + ``phonenumbers.parse``/``is_valid_number``/
``format_number`` per row + a dict for repeated ids) on the same file. Each side runs in its own
subprocess so peak RSS (``ru_maxrss``) is that side's alone. Targets (issue 3): >= 400,000 rows/s,
>= 15x the naive loop, peak memory < 1 GiB.

    .venv/bin/python bench/bench_validate.py                  # 1,000,000 rows
    .venv/bin/python bench/bench_validate.py --rows 200000 --naive-rows 50000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generated
from gen import write_csv

_OURS = """
import json, resource, sys, time
from uploader import ReadOptions, validate
cpu = time.process_time()
start = time.perf_counter()
result = validate(sys.argv[1], ReadOptions())
elapsed = time.perf_counter() - start
cpu = time.process_time() - cpu
validate_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
built = sum(1 for _ in result.records)
records_s = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "cpu": cpu, "rows": result.table.n_rows,
                  "valid": result.valid_count,
                  "refused": result.refused_count, "blank": result.blank_count,
                  "records_seconds": records_s, "records": built, "validate_rss": validate_rss,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_NAIVE = """
import csv, json, resource, sys, time
import phonenumbers
limit = int(sys.argv[2])
cpu = time.process_time()
start = time.perf_counter()
rows = valid = 0
seen = {}
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    reader = csv.DictReader(fh)
    for row in reader:
        if rows >= limit:
            break
        rows += 1
        ok = True
        try:
            number = phonenumbers.parse(row["Phone Number"], "US")
            ok = phonenumbers.is_valid_number(number)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            ok = False
        ref = row["reference_id"]
        if not ref or ref in seen:
            ok = False
        seen.setdefault(ref, rows)
        valid += ok
elapsed = time.perf_counter() - start
cpu = time.process_time() - cpu
print(json.dumps({"seconds": elapsed, "cpu": cpu, "rows": rows, "valid": valid,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--naive-rows",
        type=int,
        default=None,
        help="rows the naive loop validates (default: all; fewer to save time, rate is per row)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = generated(Path(tmp) / "contacts.csv", args.rows, write_csv)
        ours = min((_run(_OURS, str(path)) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        naive_rows = args.naive_rows or args.rows
        naive = _run(_NAIVE, str(path), str(naive_rows))
    ours_rate = ours["rows"] / ours["seconds"]
    naive_rate = naive["rows"] / naive["seconds"]
    print(
        f"ours : {ours['rows']:,} rows in {ours['seconds']:.2f}s = {ours_rate:,.0f} rows/s "
        f"(valid {ours['valid']:,}, refused {ours['refused']:,}, blank {ours['blank']:,}); "
        f"peak RSS {ours['validate_rss']:.0f} MiB"
    )
    print(
        f"       building all {ours['records']:,} Record objects afterwards: "
        f"{ours['records_seconds']:.2f}s, peak RSS then {ours['rss_mib']:.0f} MiB "
        "(records are lazy, built only when walked)"
    )
    print(
        f"naive: {naive['rows']:,} rows in {naive['seconds']:.2f}s = {naive_rate:,.0f} rows/s "
        f"(valid {naive['valid']:,}); peak RSS {naive['rss_mib']:.0f} MiB"
    )
    print(f"ratio: {ours_rate / naive_rate:.1f}x  (targets: >= 400,000 rows/s, >= 15x, < 1024 MiB)")
    print(
        f"CPU time (less sensitive to a busy machine): ours {ours['cpu']:.2f}s "
        f"({ours['rows'] / ours['cpu']:,.0f} rows/CPU-s, pyarrow threads included), naive "
        f"{naive['cpu']:.2f}s ({naive['rows'] / naive['cpu']:,.0f} rows/CPU-s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
