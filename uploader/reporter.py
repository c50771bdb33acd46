"""Every row's outcome, written back beside the user's own rows, and per-request results fetched.

The report is the input sheet itself (every row, blank ones included, every column, original order)
plus the columns in :data:`ADDED_COLUMNS`. Where the verdict for a row comes from, in order:

1. the server's result for ``(batch_id, reference_id)`` (``INVALID``/``DUPLICATE`` => ``rejected``),
2. the engine's :class:`~uploader.models.RowOutcome` for the row,
3. the validator's status (``valid``/``refused``/``blank``; ``pending`` when outcomes were given
   but the row has none, i.e. it was never sent).

Formats follow the output's extension: CSV (UTF-8 with BOM), TSV, XLSX and ODS, written by
:mod:`uploader.sheetwriter`: streaming writers (one row at a time, constant memory) in which no cell
can be a formula, several times faster than pandas' ``to_excel`` (``bench/bench_report.py``).

The server's per-request results (``results``, ``watch_results``, ``report_results``) are
fetched by :mod:`uploader.serverresults` and importable from here too.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat, zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uploader.config import ApiKey
from uploader.errors import ConfigError
from uploader.models import (
    RowIssue,
    RowOutcome,
    RowStatus,
    Table,
    ValidationResult,
)
from uploader.serverresults import (
    OPEN_REQUEST_STATES,
    ResultsRun,
    WatchOutcome,
    report_results,
    results,
    results_table,
    summarize_results,
    watch_results,
)
from uploader.sheetwriter import (
    SHEET_MAX_COLUMNS,
    SHEET_MAX_ROWS,
    SheetLayout,
    is_number,
    needs_zip64,
    neutralise_csv_value,
    sheet_name,
    write_sheet,
)

if TYPE_CHECKING:
    from uploader.models import ProgressCallback

__all__ = [
    "ADDED_COLUMNS",
    "OPEN_REQUEST_STATES",
    "REPORT_FORMATS",
    "ReportSummary",
    "ResultsRun",
    "WatchOutcome",
    "added_column_names",
    "neutralise_csv_value",
    "render_summary",
    "report_format_for",
    "report_results",
    "results",
    "results_table",
    "summarize_results",
    "watch_results",
    "write_report",
]

log = logging.getLogger("uploader")

#: Columns appended after the input's own, in this order.
ADDED_COLUMNS: tuple[str, ...] = (
    "row_number",
    "upload_status",
    "upload_error",
    "batch_id",
    "target_e164",
    "request_status",
    "attempt_count",
    "sent_at",
    "session_id",
    "conversation_id",
    "channel_manager_status",
    "insights_status",
)

#: Server verdicts that mean the request was not taken (the row is ``rejected``).
_REJECTED_REQUEST_STATES = frozenset({"INVALID", "DUPLICATE"})

#: Output extension -> writer format.
REPORT_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".ods": "ods",
}
#: Input format -> report format when OUT has no extension (.xls/.xlsm cannot be written: xlsx).
_INPUT_TO_REPORT = {
    "csv": "csv",
    "tsv": "tsv",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "xls": "xlsx",
    "xlsb": "xlsx",
    "ods": "ods",
}

_SUFFIX = " (uploader)"
_SECRET_KEY = re.compile(r"key|secret|token|password|authorization", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ReportSummary:
    """What a written report holds, in counts (also the ``--json`` body of report commands)."""

    path: Path
    format: str
    rows: int
    by_upload_status: dict[str, int] = field(default_factory=dict)
    by_request_status: dict[str, int] = field(default_factory=dict)
    by_batch: dict[str, int] = field(default_factory=dict)
    top_errors: list[tuple[str, int]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    #: Results fetched that no row of the sheet claimed (rows added to the batch elsewhere).
    unmatched_results: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "rows": self.rows,
            "by_upload_status": dict(self.by_upload_status),
            "by_request_status": dict(self.by_request_status),
            "by_batch": dict(self.by_batch),
            "top_errors": [{"error": e, "rows": n} for e, n in self.top_errors],
            "columns": list(self.columns),
            "unmatched_results": self.unmatched_results,
        }


def render_summary(summary: ReportSummary | Mapping[str, Any]) -> str:
    """Plain-text run summary for the terminal (the CLI prints it; the library never does)."""
    data = summary.to_dict() if isinstance(summary, ReportSummary) else dict(summary)
    lines = [f"Report: {data['path']} ({data['format']}, {data['rows']} rows)"]

    def block(title: str, counts: Mapping[str, int]) -> None:
        if counts:
            lines.append(f"{title}:")
            width = max(len(k) for k in counts)
            lines.extend(f"  {k:<{width}}  {v:>8}" for k, v in counts.items())

    block("Rows by upload status", data.get("by_upload_status", {}))
    block("Requests by server status", data.get("by_request_status", {}))
    block("Rows by batch", data.get("by_batch", {}))
    if data.get("unmatched_results"):
        lines.append(f"Server requests matching no row of the sheet: {data['unmatched_results']}")
    errors = data.get("top_errors", [])
    if errors:
        lines.append("Top errors:")
        lines.extend(f"  {e['rows']:>6} x {e['error']}" for e in errors)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Layout: which columns, which values
# --------------------------------------------------------------------------------------------


def added_column_names(headers: Sequence[str]) -> list[str]:
    """Names for :data:`ADDED_COLUMNS` that never collide with an input header.

    A clash (compared case- and space-insensitively, as a person reading the sheet would) gets
    `` (uploader)`` appended, then `` (uploader 2)`` and so on until it is unique.
    """
    taken = {h.strip().casefold() for h in headers}
    names: list[str] = []
    for name in ADDED_COLUMNS:
        candidate, n = name, 1
        while candidate.strip().casefold() in taken:
            candidate = f"{name}{_SUFFIX}" if n == 1 else f"{name} (uploader {n})"
            n += 1
        taken.add(candidate.casefold())
        names.append(candidate)
    return names


def report_format_for(out: Path, input_format: str | None, explicit: str | None = None) -> str:
    """Writer format: explicit ``format`` > OUT's extension > the input's own format."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in set(REPORT_FORMATS.values()):
            raise ConfigError(f"report format {explicit!r}: use one of csv, tsv, xlsx, ods")
        return fmt
    suffix = out.suffix.lower()
    if suffix in REPORT_FORMATS:
        return REPORT_FORMATS[suffix]
    if suffix in {".xls", ".xlsm"}:
        raise ConfigError(f"{out}: reports cannot be written as {suffix}; use .xlsx instead")
    if suffix and suffix not in {".txt"}:
        raise ConfigError(
            f"{out}: unknown report extension {suffix!r}; use .csv, .tsv, .xlsx, .ods"
        )
    return _INPUT_TO_REPORT.get((input_format or "csv").lower(), "csv")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_ROW_PREFIX = re.compile(r"\s*row\s+(\d+)\s*[:,]\s*", re.IGNORECASE)


def _strip_row(message: str, row_number: int) -> str:
    """Drop a leading "Row 7: " naming this very row; the report has a row_number column."""
    match = _ROW_PREFIX.match(message)
    if match and int(match.group(1)) == row_number:
        return message[match.end() :]
    return message


def _joined_errors(*groups: Iterable[str]) -> str:
    seen: dict[str, None] = {}
    for group in groups:
        for message in group:
            message = message.strip()
            if message:
                seen.setdefault(message, None)
    return "; ".join(seen)


class _RowSource:
    """Yields the report row by row (input cells, then added cells) and counts as it goes."""

    def __init__(
        self,
        validation: ValidationResult,
        outcomes: Mapping[int, RowOutcome] | None,
        results: Mapping[tuple[str, str], Mapping[str, Any]] | None,
    ) -> None:
        self.validation = validation
        self.outcomes = outcomes
        self.results = results or {}
        self._by_reference: dict[str, tuple[str, Mapping[str, Any]] | None] | None = None
        self.by_upload_status: Counter[str] = Counter()
        self.by_request_status: Counter[str] = Counter()
        self.by_batch: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.matched = 0  # results laid beside a row

    @property
    def unmatched(self) -> int:
        """Server requests no row of this sheet claimed (added elsewhere, or another file's)."""
        return max(0, len(self.results) - self.matched)

    def by_reference(self) -> dict[str, tuple[str, Mapping[str, Any]] | None]:
        """Results by reference id alone, built on first need (rows without a known batch)."""
        if self._by_reference is None:
            index: dict[str, tuple[str, Mapping[str, Any]] | None] = {}
            for (batch_id, reference_id), result in self.results.items():
                # an id seen in two batches is ambiguous without an outcome: match neither
                index[reference_id] = None if reference_id in index else (batch_id, result)
            self._by_reference = index
        return self._by_reference

    def added(self, i: int, row_number: int, issues: Sequence[RowIssue]) -> list[Any]:
        v = self.validation
        status = str(v.statuses[i]) if i < len(v.statuses) else RowStatus.VALID.value
        target = _text(v.targets_e164[i]) if i < len(v.targets_e164) else ""
        reference_id = _text(v.reference_ids[i]) if i < len(v.reference_ids) else ""
        batch_id = error = ""
        outcome = self.outcomes.get(row_number) if self.outcomes is not None else None
        if outcome is not None:
            status = str(outcome.status)
            error = outcome.error
            batch_id = outcome.batch_id
            target = outcome.target_e164 or target
            reference_id = outcome.reference_id or reference_id
        elif self.outcomes is not None and status == RowStatus.VALID:
            status = RowStatus.PENDING.value  # validated, but this run never sent it
        result: Mapping[str, Any] | None = None
        if self.results and status not in (RowStatus.BLANK, RowStatus.REFUSED) and reference_id:
            if batch_id:
                result = self.results.get((batch_id, reference_id))
            else:
                found = self.by_reference().get(reference_id)
                if found is not None:
                    batch_id, result = found
        request_status = server_error = ""
        if result is not None:
            self.matched += 1
            request_status = _text(result.get("request_status"))
            if request_status.upper() in _REJECTED_REQUEST_STATES:
                if status != RowStatus.REJECTED or not error:  # else the engine said it already
                    server_error = f"the server marked this request {request_status.upper()}"
                status = RowStatus.REJECTED.value
            elif status in (RowStatus.VALID, RowStatus.PENDING, RowStatus.FAILED):
                status = RowStatus.ACCEPTED.value  # the server holds it, whatever we thought
                error = ""
        error = _strip_row(error, row_number)
        notes = [_strip_row(issue.message, row_number) for issue in issues]
        if error:  # an engine error that already quotes the issues should not repeat them
            notes = [n for n in notes if n not in error]
        message = _joined_errors(notes, [error, server_error])
        self.by_upload_status[status] += 1
        if request_status:
            self.by_request_status[request_status] += 1
        if batch_id:
            self.by_batch[batch_id] += 1
        # top errors count kinds, not rows: issue codes, and engine/server texts
        for kind in dict.fromkeys(
            [issue.code for issue in issues] + [e for e in (error, server_error) if e]
        ):
            self.errors[kind] += 1
        get = result.get if result is not None else (lambda _k: None)
        return [
            row_number,
            status,
            message,
            batch_id,
            target,
            request_status,
            get("attempt_count"),
            _text(get("sent_at")),
            get("session_id"),
            get("conversation_id"),
            _text(get("channel_manager_status")),
            _text(get("insights_status")),
        ]

    def rows(self) -> Iterator[tuple[list[str], list[Any]]]:
        table = self.validation.table
        issues = self.validation.issues_by_row()
        width = len(table.headers)
        # row_numbers lead: a short column is padded, never allowed to drop a row
        blank = ("",) * width
        cell_rows = chain(zip_longest(*table.columns, fillvalue=""), repeat(blank))
        for i, (row_number, cells) in enumerate(zip(table.row_numbers, cell_rows, strict=False)):
            number = int(row_number)
            texts = [c if type(c) is str else _text(c) for c in cells[:width]]
            if len(texts) < width:
                texts += [""] * (width - len(texts))
            yield texts, self.added(i, number, issues.get(number, ()))


# --------------------------------------------------------------------------------------------
# write_report
# --------------------------------------------------------------------------------------------


def _settings_rows(settings: Mapping[str, Any] | None) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for key, value in (settings or {}).items():
        if isinstance(value, ApiKey) or _SECRET_KEY.search(str(key)):
            continue  # the key never goes into a file
        if isinstance(value, list | tuple | set | frozenset):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, Mapping):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        rows.append((str(key), value if is_number(value) else _text(value)))
    return rows


def _write_file(
    out: Path,
    fmt: str,
    header: list[str],
    source: _RowSource,
    table: Table,
    sample: list[list[str]],
    summary_rows: Callable[[], list[tuple[Any, ...]]],
    zip64: bool,
    progress: ProgressCallback | None,
) -> int:
    """Write to a temporary sibling, then rename over ``out``: never half a report on disk."""
    try:
        layout = SheetLayout(
            n_rows=table.n_rows,
            sample=sample,
            summary_rows=summary_rows,
            sheet=sheet_name(table.sheet, "Summary"),
            status_col=len(table.headers) + 1,
            progress=progress,
            zip64=zip64,
        )
        return write_sheet(out, fmt, header, source.rows(), layout)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def write_report(
    out: Path,
    validation: ValidationResult,
    outcomes: Mapping[int, RowOutcome] | None = None,
    results: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    format: str | None = None,
    progress: ProgressCallback | None = None,
) -> ReportSummary:
    """Write every input row with its outcome beside it; return the counts it wrote.

    ``outcomes`` (by spreadsheet row number) come from an upload; ``results`` (by
    ``(batch_id, reference_id)``) are the server's ``CommunicationRequestResult`` objects. With
    neither, the report is a validation report (``valid``/``refused``/``blank``). The file is
    written to a temporary sibling and renamed into place, so a reader never sees half a report.
    """
    out = Path(out)
    table = validation.table
    fmt = report_format_for(out, table.format, format)
    headers = [_text(h) for h in table.headers]
    header = headers + added_column_names(headers)
    if fmt in ("xlsx", "ods") and (
        table.n_rows + 1 > SHEET_MAX_ROWS or len(header) > SHEET_MAX_COLUMNS
    ):
        raise ConfigError(
            f"{out}: {table.n_rows:,} rows x {len(header)} columns do not fit in one {fmt} "
            f"sheet ({SHEET_MAX_ROWS:,} x {SHEET_MAX_COLUMNS:,}); write the report as .csv"
        )
    sample = [  # the first rows, for column widths
        [_text(col[i]) if i < len(col) else "" for col in table.columns] + [""] * len(ADDED_COLUMNS)
        for i in range(min(table.n_rows, 1000))
    ]

    def summary_rows() -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [
            ("Report",),
            ("Source file", str(table.path)),
            ("Rows", table.n_rows),
            ("Server requests matching no row", source.unmatched),
            ("Written at (UTC)", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())),
            ("",),
            ("Rows by upload_status",),
            *sorted(source.by_upload_status.items(), key=lambda kv: -kv[1]),
            ("",),
            ("Requests by request_status",),
            *sorted(source.by_request_status.items(), key=lambda kv: -kv[1]),
            ("",),
            ("Rows by batch",),
            *sorted(source.by_batch.items()),
            ("",),
            ("Top errors",),
            *[(e, n) for e, n in source.errors.most_common(10)],
        ]
        settings_rows = _settings_rows(settings)
        if settings_rows:
            rows += [("",), ("Settings",), *settings_rows]
        return rows

    if out.exists() and table.path and _same_file(out, Path(table.path)):
        raise ConfigError(f"{out}: the report would overwrite the input file; choose another name")
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; give the report a file name, e.g. {out}/report.xlsx")
    zip64 = needs_zip64(table.n_rows, len(header), sample)
    while True:
        source = _RowSource(validation, outcomes, results)
        try:
            count = _write_file(
                out, fmt, header, source, table, sample, summary_rows, zip64, progress
            )
            break
        except RuntimeError as exc:  # zipfile: "... unexpectedly exceeded ZIP64 limit"
            if zip64 or "ZIP64" not in str(exc):
                raise
            log.info("report part passed 2 GiB; writing it again with ZIP64")
            zip64 = True
    if progress is not None:
        progress("report", count, table.n_rows)
    log.info("report written: %s (%s, %d rows)", out, fmt, count)
    return ReportSummary(
        path=out,
        format=fmt,
        rows=count,
        by_upload_status=dict(source.by_upload_status.most_common()),
        by_request_status=dict(source.by_request_status.most_common()),
        by_batch=dict(sorted(source.by_batch.items())),
        top_errors=source.errors.most_common(5),
        unmatched_results=source.unmatched,
        columns=header,
    )
