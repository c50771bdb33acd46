"""Factories for the reporter tests: a ValidationResult built from plain rows, a processed batch."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from uploader.client import SyllableClient
from uploader.models import ColumnMapping, RowIssue, Table, ValidationResult

__all__ = ["build_validation", "processed_batch", "write_rows_csv"]


def build_validation(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    statuses: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    reference_ids: Sequence[str] | None = None,
    issues: Sequence[RowIssue] = (),
    fmt: str = "csv",
    path: Path = Path("contacts.csv"),
) -> ValidationResult:
    """Rows as a reader would hand them over (header = row 1, data from row 2)."""
    n = len(rows)
    columns = [[str(row[j]) for row in rows] for j in range(len(headers))]
    blank = ["blank" if not any(str(c).strip() for c in row) else "valid" for row in rows]
    table = Table(
        path=path,
        format=fmt,
        sheet=None,
        headers=list(headers),
        columns=list(columns),
        row_numbers=list(range(2, n + 2)),
    )
    return ValidationResult(
        table=table,
        mapping=ColumnMapping(
            reference_id=None, target=headers[0] if headers else "", variables=()
        ),
        records=[],
        issues=list(issues),
        statuses=list(statuses) if statuses is not None else blank,
        targets_e164=list(targets) if targets is not None else [""] * n,
        reference_ids=list(reference_ids) if reference_ids is not None else [""] * n,
    )


@pytest.fixture
def make_validation() -> Callable[..., ValidationResult]:
    return build_validation


def processed_batch(
    client: SyllableClient, batch_id: str, body: str, filename: str, requests: int
) -> str:
    """Create ``batch_id`` unpaused, upload the CSV ``body``; wait until it holds ``requests``."""
    client.create_batch(batch_id, 1, paused=False)
    client.upload_batch(batch_id, body.encode(), filename)
    for _ in range(200):
        if len(client.results(batch_id)) == requests:
            return batch_id
        time.sleep(0.02)
    raise AssertionError(f"upload to {batch_id} never processed")


def write_rows_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """A UTF-8 CSV of ``rows`` (header first), as a user's export would be."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path
