"""Plain data passed between the stages: what the reader yields, what the engine decides per row.

These are the contracts between modules (read -> validate -> chunk/engine -> report), so they are
small frozen dataclasses with no behaviour beyond (de)serialisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "ColumnMapping",
    "CommunicationRequest",
    "ProgressCallback",
    "Record",
    "RowIssue",
    "RowOutcome",
    "RowStatus",
    "Table",
    "ValidationResult",
]

#: Library code reports progress through this: ``progress(stage, done, total)``; the CLI draws it.
#: Stages: "read", "validate", "upload", "activate", "results", "report".
ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True, slots=True)
class CommunicationRequest:
    """One outbound request as the Syllable API takes it (``target`` already E.164)."""

    reference_id: str
    target: str
    request_variables: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "reference_id": self.reference_id,
            "target": self.target,
            "request_variables": dict(self.request_variables),
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A valid request plus the spreadsheet row it came from (header row = row 1)."""

    row_number: int
    request: CommunicationRequest


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem with one cell or row, phrased for the person who will fix the spreadsheet.

    ``code`` is a stable machine name (``invalid_target``, ``missing_reference_id``,
    ``duplicate_reference_id``, ``duplicate_target``, ``value_too_long``, ``missing_variable``,
    ...); ``row_number`` is the row as Excel shows it; ``column`` is the header text.
    """

    code: str
    row_number: int
    column: str | None
    value: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RowStatus(StrEnum):
    """Where each spreadsheet row ends up; exactly one per row."""

    VALID = "valid"  # validate only: would be sent
    ACCEPTED = "accepted"  # the server holds it
    REFUSED = "refused"  # our validation said no; never sent
    REJECTED = "rejected"  # the server said no (4xx for this row, INVALID/DUPLICATE on upload)
    FAILED = "failed"  # gave up after retries, or the batch failed
    PENDING = "pending"  # not sent yet (trial run, interrupted run)
    BLANK = "blank"  # an empty row, skipped


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """The engine's verdict on one spreadsheet row, which the reporter writes beside it."""

    row_number: int
    status: RowStatus
    error: str = ""
    reference_id: str = ""
    batch_id: str = ""
    target_e164: str = ""


@dataclass(slots=True)
class Table:
    """A sheet as text, column-major (cheap for vectorised validation, 1M rows fit in memory).

    ``columns[j][i]`` is the text of data row ``i`` under ``headers[j]``; ``row_numbers[i]`` is
    the row as the spreadsheet shows it. Blank rows are kept (so reports keep every row).
    """

    path: Path
    format: str  # "csv", "tsv", "xlsx", "xlsm", "xls", "ods"
    sheet: str | None
    headers: list[str]
    columns: list[Sequence[str]]
    row_numbers: Sequence[int]
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def n_rows(self) -> int:
        return len(self.row_numbers)

    def row(self, i: int) -> list[str]:
        return [str(col[i]) for col in self.columns]

    def iter_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cell texts) for every data row, in file order."""
        for i, number in enumerate(self.row_numbers):
            yield int(number), [str(col[i]) for col in self.columns]


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which header feeds which field; every other kept header becomes a request variable."""

    reference_id: str | None  # None when ids are generated
    target: str
    variables: tuple[str, ...]
    generated_reference_ids: bool = False


@dataclass(slots=True)
class ValidationResult:
    """What the reader + validator make of one file: valid records and row-level problems.

    ``statuses[i]`` (``valid``/``refused``/``blank``) and ``targets_e164[i]`` (``""`` when
    invalid) align with ``table`` rows; ``records`` holds the valid rows in file order.
    """

    table: Table
    mapping: ColumnMapping
    records: Sequence[Record]
    issues: list[RowIssue]
    statuses: Sequence[str]
    targets_e164: Sequence[str]
    reference_ids: Sequence[str]

    @property
    def blank_count(self) -> int:
        return sum(1 for s in self.statuses if s == RowStatus.BLANK)

    @property
    def refused_count(self) -> int:
        return sum(1 for s in self.statuses if s == RowStatus.REFUSED)

    @property
    def valid_count(self) -> int:
        return len(self.records)

    def issues_by_row(self) -> dict[int, list[RowIssue]]:
        out: dict[int, list[RowIssue]] = {}
        for issue in self.issues:
            out.setdefault(issue.row_number, []).append(issue)
        return out

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for issue in self.issues:
            counts[issue.code] = counts.get(issue.code, 0) + 1
        return {
            "file": str(self.table.path),
            "format": self.table.format,
            "sheet": self.table.sheet,
            "rows_read": self.table.n_rows,
            "valid": self.valid_count,
            "refused": self.refused_count,
            "blank_skipped": self.blank_count,
            "problems": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        }
