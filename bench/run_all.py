"""Every benchmark of the project in one command, summed up in one table of figures and targets.

Runs each ``bench/bench_*.py`` script as its own process (sizes chosen so the whole run takes a
few minutes on two cores; ``--quick`` for a smoke run), keeps its full output under
``bench/out/logs/``, picks the headline figures out of it and prints::

    benchmark   figure                              measured        target          verdict

A script that does not exist yet shows as ``missing``; one that fails or prints nothing
recognisable shows as ``error`` (its log says why). The table is also written to
``bench/out/run_all.md``.

    .venv/bin/python bench/run_all.py            # the figures for the notes (~5 minutes)
    .venv/bin/python bench/run_all.py --quick    # smaller sizes, ~2 minutes
    .venv/bin/python bench/run_all.py --only validate,upload
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


@dataclass
class Figure:
    """One line of the table."""

    bench: str
    name: str
    measured: str = "-"
    target: str = ""
    verdict: str = ""


@dataclass
class Bench:
    """One benchmark script, its arguments (full and quick) and how to read its output."""

    name: str
    script: str
    args: list[str]
    quick: list[str]
    parse: Callable[[str], list[Figure]]
    timeout: float = 600.0
    figures: list[str] = field(default_factory=list)  # names shown when missing / failed


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no match for {pattern!r}")
    return match


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _emulator(text: str) -> list[Figure]:
    data = json.loads(text.strip().splitlines()[-1])
    out = []
    for case in ("emulator GET get_by_id", "emulator POST add"):
        if case in data:
            rps = data[case]["rps"]
            out.append(
                Figure(
                    "emulator",
                    f"{case} (req/s, 1 core)",
                    f"{rps:,}",
                    ">= 2,000 req/s",
                    _verdict(rps >= 2000),
                )
            )
    for case in ("emulator POST add --db", "emulator POST add latency 50ms"):
        if case in data:
            out.append(Figure("emulator", f"{case} (req/s)", f"{data[case]['rps']:,}"))
    if "emulator POST add" in data:
        cpu = data["emulator POST add"]["rps_per_cpu"]
        out.append(Figure("emulator", "POST add per CPU-second", f"{cpu:,}", "(busy-box proof)"))
    return out


def _validate(text: str) -> list[Figure]:
    ours = _find(
        r"^ours\s*: ([\d,]+) rows in ([\d.]+)s = ([\d,]+) rows/s.*peak RSS (\d+) MiB", text
    )
    naive = _find(r"^naive: .*= ([\d,]+) rows/s", text)
    ratio = _find(r"^ratio: ([\d.]+)x", text)
    rows, rate, peak = _num(ours.group(1)), _num(ours.group(3)), _num(ours.group(4))
    return [
        Figure(
            "validate",
            f"validation of {rows:,.0f} CSV rows (rows/s)",
            f"{rate:,.0f}",
            ">= 400,000",
            _verdict(rate >= 400_000),
        ),
        Figure(
            "validate",
            "  vs naive phonenumbers loop",
            f"{_num(ratio.group(1)):.1f}x ({_num(naive.group(1)):,.0f} rows/s)",
            ">= 15x",
            _verdict(_num(ratio.group(1)) >= 15),
        ),
        Figure(
            "validate",
            f"peak memory, {rows:,.0f} rows",
            f"{peak:,.0f} MiB",
            "< 1,024 MiB",
            _verdict(peak < 1024),
        ),
    ]


def _xlsx(text: str) -> list[Figure]:
    ours = _find(r"^ours\s*: read \+ validate ([\d,]+) rows in [\d.]+s = ([\d,]+) rows/s", text)
    openpyxl = _find(r"^openpyxl: .*= ([\d,]+) rows/s", text)
    ratio = _find(r"^ratio\s*: ([\d.]+)x", text)
    rate = _num(ours.group(2))
    return [
        Figure(
            "xlsx_read",
            f"xlsx read+validate, {_num(ours.group(1)):,.0f} rows, fastexcel (rows/s)",
            f"{rate:,.0f}",
            ">= 120,000",
            _verdict(rate >= 120_000),
        ),
        Figure(
            "xlsx_read",
            "  vs openpyxl read only",
            f"{_num(ratio.group(1)):.1f}x ({_num(openpyxl.group(1)):,.0f} rows/s)",
            "(faster)",
            _verdict(_num(ratio.group(1)) > 1),
        ),
    ]


def _add(text: str) -> list[Figure]:
    sdk = _find(r"syllable-sdk sequential loop.*?([\d.,]+) rows/s", text)
    engine = _find(r"upload --mode add.*?([\d.,]+) rows/s\s+([\d.]+)x", text)
    ratio = _num(engine.group(2))
    return [
        Figure(
            "add",
            "add mode, 32 in flight, 50 ms latency (rows/s)",
            f"{_num(engine.group(1)):,.0f}",
            "",
        ),
        Figure(
            "add",
            "  vs sequential syllable-sdk loop",
            f"{ratio:.1f}x ({_num(sdk.group(1)):,.1f} rows/s)",
            ">= 30x",
            _verdict(ratio >= 30),
        ),
    ]


def _upload(text: str) -> list[Figure]:
    head = _find(r"upload mode, ([\d,]+) rows", text)
    engine = _find(r"upload --mode upload, end to end\s+([\d.,]+) rows/s\s+([\d.,]+)x", text)
    sdk = _find(r"syllable-sdk sequential loop.*?([\d.,]+) rows/s", text)
    ratio = _num(engine.group(2))
    return [
        Figure(
            "upload",
            f"upload mode, {_num(head.group(1)):,.0f} rows end to end + report (rows/s)",
            f"{_num(engine.group(1)):,.0f}",
            "",
        ),
        Figure(
            "upload",
            "  vs sequential syllable-sdk loop",
            f"{ratio:,.0f}x ({_num(sdk.group(1)):,.1f} rows/s)",
            ">= 500x",
            _verdict(ratio >= 500),
        ),
    ]


def _report(text: str) -> list[Figure]:
    ours = _find(r"^ours xlsx .*?([\d,]+) rows/CPU-s", text)
    rows = _find(r"building ([\d,]+) rows", text)
    out = [
        Figure(
            "report",
            f"XLSX report writing, {_num(rows.group(1)):,.0f} rows (rows/CPU-s)",
            f"{_num(ours.group(1)):,.0f}",
            "",
        )
    ]
    ratio = re.search(r"ratio ours/pandas\[xlsxwriter\]: ([\d.]+)x", text)
    if ratio:
        value = _num(ratio.group(1))
        out.append(
            Figure("report", "  vs pandas to_excel", f"{value:.1f}x", ">= 3x", _verdict(value >= 3))
        )
    memory = _find(
        r"writer peak memory \(tracemalloc\): "
        r"([\d,]+) rows ([\d.]+) MiB, ([\d,]+) rows ([\d.]+) MiB",
        text,
    )
    small, big = _num(memory.group(2)), _num(memory.group(4))
    out.append(
        Figure(
            "report",
            f"writer peak memory, {memory.group(1)} -> {memory.group(3)} rows",
            f"{small:.1f} -> {big:.1f} MiB",
            "flat in rows",
            _verdict(big <= small * 1.5 + 1),
        )
    )
    return out


BENCHES = [
    Bench(
        "emulator",
        "bench_emulator.py",
        ["--seconds", "3", "--rounds", "2"],
        ["--seconds", "1", "--rounds", "1"],
        _emulator,
        figures=["emulator req/s"],
    ),
    Bench(
        "validate",
        "bench_validate.py",
        ["--rows", "1000000", "--naive-rows", "100000", "--repeat", "2"],
        ["--rows", "200000", "--naive-rows", "20000", "--repeat", "1"],
        _validate,
        figures=["validation rows/s vs naive", "peak memory"],
    ),
    Bench(
        "xlsx_read",
        "bench_xlsx_read.py",
        ["--rows", "100000", "--repeat", "2"],
        ["--rows", "20000", "--repeat", "1"],
        _xlsx,
        figures=["xlsx read calamine vs openpyxl"],
    ),
    Bench(
        "add",
        "bench_add.py",
        ["--rows", "5000", "--sdk-rows", "100"],
        ["--rows", "2000", "--sdk-rows", "40"],
        _add,
        figures=["add mode vs SDK loop"],
    ),
    Bench(
        "upload",
        "bench_upload.py",
        ["--rows", "100000", "--sdk-rows", "100"],
        ["--rows", "20000", "--sdk-rows", "40"],
        _upload,
        figures=["upload mode vs SDK loop"],
    ),
    Bench(
        "report",
        "bench_report.py",
        ["--rows", "30000", "--small", "10000"],
        ["--rows", "10000", "--small", "2000"],
        _report,
        figures=["report writing rows/s", "writer peak memory"],
    ),
]


def _run(bench: Bench, quick: bool) -> tuple[list[Figure], float, str]:
    path = HERE / bench.script
    if not path.exists():
        return [Figure(bench.name, f, "missing") for f in bench.figures], 0.0, "missing"
    args = bench.quick if quick else bench.args
    started = time.monotonic()
    log = OUT / "logs" / f"{bench.name}.log"
    try:
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            capture_output=True,
            text=True,
            timeout=bench.timeout,
            cwd=HERE.parent,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        output = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
        code = proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = f"{exc.stdout or ''}\n{exc.stderr or ''}\ntimed out after {bench.timeout:.0f}s"
        code = -1
    seconds = time.monotonic() - started
    log.write_text(f"$ {path.name} {' '.join(args)}\n{output}", encoding="utf-8")
    if code != 0:
        return [Figure(bench.name, f, "error") for f in bench.figures], seconds, f"exit {code}"
    try:
        return bench.parse(proc.stdout), seconds, "ok"
    except (ValueError, KeyError, IndexError) as exc:
        return [Figure(bench.name, f, "error") for f in bench.figures], seconds, str(exc)


def _table(figures: list[Figure]) -> list[str]:
    widths = [
        max(len(h), *(len(getattr(f, a)) for f in figures))
        for h, a in (
            ("benchmark", "bench"),
            ("figure", "name"),
            ("measured", "measured"),
            ("target", "target"),
            ("verdict", "verdict"),
        )
    ]
    head = ("benchmark", "figure", "measured", "target", "verdict")
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for f in figures:
        cells = (f.bench, f.name, f.measured, f.target, f.verdict)
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = only - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    figures: list[Figure] = []
    timings: list[str] = []
    for bench in BENCHES:
        if only and bench.name not in only:
            continue
        print(f"running {bench.script} ...", file=sys.stderr, flush=True)
        found, seconds, status = _run(bench, args.quick)
        figures += found
        timings.append(f"{bench.name} {seconds:.0f}s ({status})")
    total = time.monotonic() - started
    try:
        load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except OSError:
        load = ""
    lines = _table(figures)
    lines.append("")
    kind = "quick run (smoke sizes: fixed costs weigh more, verdicts are indicative)"
    lines.append(f"{kind if args.quick else 'full run'} in {total:.0f}s: " + ", ".join(timings))
    if load:
        lines.append(load)
    lines.append(f"logs: {OUT / 'logs'}")
    print("\n".join(lines))
    (OUT / "run_all.md").write_text("```\n" + "\n".join(lines) + "\n```\n", encoding="utf-8")


if __name__ == "__main__":
    main()
