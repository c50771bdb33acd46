"""A 100,000-row report: streamed in flat memory and complete when read back (slow)."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from uploader.models import ColumnMapping, RowOutcome, RowStatus, Table, ValidationResult
from uploader.reporter import ADDED_COLUMNS, write_report


def big(n: int) -> tuple[ValidationResult, dict[int, RowOutcome], dict]:
    headers = ["Phone", "First", "Last", "Email", "City", "Note"]
    columns = [
        [f"512-555-{i % 10_000:04d}" for i in range(n)],
        [f"First{i}" for i in range(n)],
        ["Müller"] * n,
        [f"p{i}@example.com" for i in range(n)],
        ["São Paulo"] * n,
        [f"=note {i}" if i % 7 == 0 else f"note {i}" for i in range(n)],
    ]
    numbers = list(range(2, n + 2))
    refs = [f"r{i}" for i in range(n)]
    table = Table(Path("big.csv"), "csv", None, headers, columns, numbers)
    validation = ValidationResult(
        table, ColumnMapping(None, "Phone", ()), [], [], ["valid"] * n, [""] * n, refs
    )
    outcomes = {
        number: RowOutcome(number, RowStatus.ACCEPTED, "", ref, f"b-{i // 10_000}", "+1")
        for i, (number, ref) in enumerate(zip(numbers, refs, strict=True))
    }
    results = {
        (f"b-{i // 10_000}", ref): {"reference_id": ref, "request_status": "COMPLETED"}
        for i, ref in enumerate(refs)
    }
    return validation, outcomes, results


def peak_mib(out: Path, data: tuple) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        write_report(out, *data)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_100k_rows_flat_memory_and_complete(tmp_path: Path) -> None:
    small_peak = peak_mib(tmp_path / "small.xlsx", big(10_000))
    data = big(100_000)
    large_peak = peak_mib(tmp_path / "large.xlsx", data)
    assert large_peak < small_peak * 1.5 + 2, (small_peak, large_peak)
    rows = CalamineWorkbook.from_path(str(tmp_path / "large.xlsx")).get_sheet_by_index(0)
    values = rows.to_python()
    assert len(values) == 100_001
    assert values[0][6:] == list(ADDED_COLUMNS)
    assert values[1][5] == "=note 0" and values[100_000][1] == "First99999"
    assert values[100_000][6] == 100_001 and values[100_000][7] == "accepted"
    assert values[100_000][11] == "COMPLETED"
