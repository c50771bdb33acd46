"""Factories for the reporter tests: a ValidationResult built from plain rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from uploader.models import ColumnMapping, RowIssue, Table, ValidationResult


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
