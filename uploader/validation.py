"""Validate one spreadsheet: every row valid, refused (with every reason) or blank.

Problems are data (:class:`~uploader.models.RowIssue`), collected for every row and every check,
never raised; only "cannot go on" is an exception (unreadable file, no phone column, a required
variable missing from the headers, no data rows). Checks run on whole Arrow columns, so a
1,000,000-row file validates in seconds; valid rows are exposed as a lazy sequence of
:class:`~uploader.models.Record` built on demand.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from uploader.config import ReadOptions
from uploader.errors import ConfigError, InputError
from uploader.mapping import column_indexes, resolve_columns
from uploader.models import (
    CommunicationRequest,
    ProgressCallback,
    Record,
    RowIssue,
    RowStatus,
    Table,
    ValidationResult,
)
from uploader.phones import e164_column, e164_one, invalid_reason
from uploader.reader import TextColumn, as_arrow, read_table

__all__ = ["LazyRecords", "generate_reference_ids", "validate"]

log = logging.getLogger("uploader")

_MAX_REASONS = 200  # distinct invalid numbers explained in detail; the rest get a short reason


def _short_reason(value: str) -> str:
    digits = sum(map(str.isdigit, value))  # runs once per refused row: no Python-level loop
    return f"not a valid number; it has {digits} digit{'s' if digits != 1 else ''}"


class LazyRecords(Sequence[Record]):
    """The valid rows as :class:`Record` objects, built when asked for (1M rows stay cheap)."""

    def __init__(
        self,
        rows: np.ndarray,
        row_numbers: np.ndarray,
        reference_ids: Sequence[str],
        targets: Sequence[str],
        variables: Sequence[tuple[str, Sequence[str]]],
    ) -> None:
        self._rows = rows
        self._row_numbers = row_numbers
        self._refs = reference_ids
        self._targets = targets
        self._variables = variables

    def __len__(self) -> int:
        return len(self._rows)

    def _build(self, i: int) -> Record:
        return Record(
            row_number=int(self._row_numbers[i]),
            request=CommunicationRequest(
                reference_id=self._refs[i],
                target=self._targets[i],
                request_variables={key: column[i] for key, column in self._variables},
            ),
        )

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self._build(int(i)) for i in self._rows[index]]
        return self._build(int(self._rows[index]))

    def __iter__(self) -> Iterator[Record]:
        # Plain lists once, then straight indexing: this loop runs a million times.
        refs, targets = list(self._refs), list(self._targets)
        variables = [(key, list(column)) for key, column in self._variables]
        numbers = self._row_numbers.tolist()
        for i in self._rows.tolist():
            yield Record(
                row_number=numbers[i],
                request=CommunicationRequest(
                    reference_id=refs[i],
                    target=targets[i],
                    request_variables={key: column[i] for key, column in variables},
                ),
            )

    def __repr__(self) -> str:
        return f"LazyRecords(len={len(self)})"


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _empty(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _np(pc.binary_length(values)) == 0


def generate_reference_ids(columns: Sequence[pa.Array], blank: np.ndarray) -> np.ndarray:
    """Stable ids from row content: the same file gives the same ids, run after run.

    ``row-<16 hex of the row's content hash>``, with ``-2``, ``-3``... for identical rows in
    file order; blank rows get "".
    """
    n = len(blank)
    if not columns:
        return np.full(n, "", dtype=object)
    frame = pd.DataFrame({str(j): _np(col) for j, col in enumerate(columns)})
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    occurrence = pd.Series(hashes).groupby(hashes).cumcount().to_numpy()
    ids = np.array([f"row-{h:016x}" for h in hashes], dtype=object)
    again = np.nonzero(occurrence > 0)[0]
    for i in again:
        ids[i] = f"{ids[i]}-{occurrence[i] + 1}"
    ids[blank] = ""
    return ids


def _first_rows(values: pa.Array | pa.ChunkedArray, candidates: np.ndarray) -> np.ndarray:
    """For each row, the index of the first candidate row holding the same value (-1 if none)."""
    first = np.full(len(values), -1, dtype=np.int64)
    rows = np.nonzero(candidates)[0]
    if not len(rows):
        return first
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    codes = _np(pc.dictionary_encode(values).indices).astype(np.int64)[rows]
    _, first_pos, inverse = np.unique(codes, return_index=True, return_inverse=True)
    first[rows] = rows[first_pos[inverse]]
    return first


class _Issues:
    """Collects issues as (row index, check order, RowIssue) and sorts them at the end."""

    def __init__(self, row_numbers: np.ndarray) -> None:
        self.row_numbers = row_numbers
        self.items: list[tuple[int, int, RowIssue]] = []
        self.flagged = np.zeros(len(row_numbers), dtype=bool)

    def add(
        self,
        order: int,
        code: str,
        rows: np.ndarray,
        column: str | None,
        values: Sequence[str],
        message: object,
    ) -> None:
        """``message(row_number, value, i)`` builds the text for each row index ``i``."""
        if not len(rows):
            return
        self.flagged[rows] = True
        append = self.items.append
        numbers = self.row_numbers[rows].tolist()
        for i, number, value in zip(rows.tolist(), numbers, values, strict=True):
            text = message(number, value, i)  # type: ignore[operator]
            append((i, order, RowIssue(code, number, column, value, text)))

    def sorted(self) -> list[RowIssue]:
        self.items.sort(key=lambda item: (item[0], item[1]))
        return [item[2] for item in self.items]


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def validate(
    source: Path | str | Table,
    options: ReadOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ValidationResult:
    """Read (unless given a :class:`Table`) and validate one file; never raises for row problems."""
    options = options or ReadOptions()
    region = (options.region or "US").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        close = difflib.get_close_matches(region, sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(
            f"--region {options.region!r} is not a region code{hint}; use a two-letter "
            "ISO code such as US, GB, DE"
        )
    table = source if isinstance(source, Table) else read_table(Path(source), options)
    if progress:
        progress("read", table.n_rows, table.n_rows)
    try:
        mapping = resolve_columns(table.headers, options)
    except InputError as exc:  # a header problem: say which file and which row holds the header
        if exc.path:
            raise
        raise InputError(
            exc.reason, path=str(table.path), row=options.header_row, column=exc.column
        ) from exc
    except ConfigError as exc:
        raise ConfigError(f"{table.path}: {exc}") from exc
    where = column_indexes(table.headers, mapping)
    n = table.n_rows
    columns = [as_arrow(c) for c in table.columns]
    row_numbers = np.asarray(table.row_numbers, dtype=np.int64)

    blank = np.ones(n, dtype=bool)
    for col in columns:
        blank &= _empty(col)
    if n == 0 or blank.all():
        raise InputError(
            f"has no data rows below the header (row {options.header_row})",
            path=str(table.path),
        )
    filled = ~blank
    issues = _Issues(row_numbers)
    for j, header in enumerate(table.headers):
        if not header.strip() and not _empty(columns[j]).all():
            from uploader.reader import column_letter

            log.warning(
                "%s: column %s has values but no header; they are not sent (give it a header)",
                table.path,
                column_letter(j),
            )

    # target -------------------------------------------------------------------------------
    target_name = mapping.target.strip()
    target = columns[where["target"]]
    e164_arrow = e164_column(target, region)
    # E.164 allows 15 digits; phonenumbers calls a few longer numbers valid (long German lines)
    too_long = pc.greater(pc.utf8_length(e164_arrow), 16)
    if pc.any(too_long).as_py():
        e164_arrow = pc.if_else(too_long, "", e164_arrow)
    no_e164 = _empty(e164_arrow)
    target_empty = _empty(target)
    rows = np.nonzero(filled & target_empty)[0]
    issues.add(
        10,
        "missing_target",
        rows,
        target_name,
        [""] * len(rows),
        lambda r, v, i: f"Row {r}: the phone number in column {target_name!r} is empty.",
    )
    rows = np.nonzero(filled & ~target_empty & no_e164)[0]
    bad_values = target.take(pa.array(rows)).to_pylist() if len(rows) else []
    reasons: dict[str, str] = {}
    for value in bad_values:
        if value not in reasons and len(reasons) < _MAX_REASONS:
            reasons[value] = invalid_reason(value, region)
            if reasons[value] == "no such number range" and len(e164_one(value, region)) > 16:
                reasons[value] = "more than the 15 digits E.164 allows"
    issues.add(
        11,
        "invalid_target",
        rows,
        target_name,
        bad_values,
        lambda r, v, i: (
            f"Row {r}: {_shorten(v)!r} in column {target_name!r} is not a valid phone number "
            f"({reasons.get(v) or _short_reason(v)}; numbers without +country code are "
            f"read as {region})."
        ),
    )

    # reference ids --------------------------------------------------------------------------
    if mapping.reference_id is not None:
        ref_name = mapping.reference_id.strip()
        refs = columns[where["reference_id"]]
        ref_empty = _empty(refs)
        if options.generate_reference_ids and (filled & ref_empty).any():
            generated = generate_reference_ids(columns, blank)
            refs = pa.array(np.where(ref_empty, generated, _np(refs)), type=pa.string())
            ref_empty = _empty(refs)
    else:
        ref_name = "reference_id"
        refs = pa.array(generate_reference_ids(columns, blank), type=pa.string())
        ref_empty = _empty(refs)
    rows = np.nonzero(filled & ref_empty)[0]
    issues.add(
        20,
        "missing_reference_id",
        rows,
        ref_name,
        [""] * len(rows),
        lambda r, v, i: (
            f"Row {r}: the reference id in column {ref_name!r} is empty "
            "(fill it in, or use --generate-reference-ids)."
        ),
    )
    first = _first_rows(refs, filled & ~ref_empty)
    rows = np.nonzero((first >= 0) & (first != np.arange(n)))[0]
    issues.add(
        21,
        "duplicate_reference_id",
        rows,
        ref_name,
        refs.take(pa.array(rows, type=pa.int64())).to_pylist() if len(rows) else [],
        lambda r, v, i: (
            f"Row {r}: reference id {_shorten(v)!r} in column {ref_name!r} is already used on "
            f"row {int(row_numbers[first[i]])}; every row needs its own id."
        ),
    )

    # repeated phone numbers ---------------------------------------------------------------------
    if options.dedupe_targets:
        first_target = _first_rows(e164_arrow, filled & ~no_e164)
        rows = np.nonzero((first_target >= 0) & (first_target != np.arange(n)))[0]
        issues.add(
            12,
            "duplicate_target",
            rows,
            target_name,
            target.take(pa.array(rows)).to_pylist() if len(rows) else [],
            lambda r, v, i: (
                f"Row {r}: phone number {_shorten(v)!r} in column {target_name!r} "
                f"({e164_arrow[int(i)].as_py()}) already appears on row "
                f"{int(row_numbers[first_target[i]])}."
            ),
        )

    # over-long values and required variables ---------------------------------------------------
    limit = options.max_value_length
    mapped = [where["target"], *where["variables"]]
    if where["reference_id"] is not None:
        mapped.insert(1, where["reference_id"])
    for order, j in enumerate(mapped):
        if not (_np(pc.binary_length(columns[j])) > limit).any():
            continue  # bytes >= characters: nothing can be too long
        lengths = _np(pc.utf8_length(columns[j]))
        rows = np.nonzero(filled & (lengths > limit))[0]
        name = table.headers[j].strip()
        issues.add(
            30 + order,
            "value_too_long",
            rows,
            name,
            [_shorten(v) for v in columns[j].take(pa.array(rows)).to_pylist()] if len(rows) else [],
            lambda r, v, i, name=name, lengths=lengths: (
                f"Row {r}: the value in column {name!r} is {int(lengths[i]):,} characters "
                f"long; the limit is {limit:,}."
            ),
        )
    keys = [h.strip() for h in mapping.variables]
    for order, name in enumerate(name.strip() for name in options.require_vars):
        j = where["variables"][keys.index(name)]
        rows = np.nonzero(filled & _empty(columns[j]))[0]
        issues.add(
            50 + order,
            "missing_variable",
            rows,
            name,
            [""] * len(rows),
            lambda r, v, i, name=name: f"Row {r}: required variable {name!r} is empty.",
        )

    # statuses and records --------------------------------------------------------------------
    refused = filled & issues.flagged
    status_codes = np.where(blank, 2, np.where(refused, 1, 0))
    statuses = np.array(
        [RowStatus.VALID.value, RowStatus.REFUSED.value, RowStatus.BLANK.value], dtype=object
    )[status_codes].tolist()
    targets_e164 = TextColumn(e164_arrow)
    reference_ids = TextColumn(refs)
    variables = [(table.headers[j].strip(), table.columns[j]) for j in where["variables"]]
    records = LazyRecords(
        np.nonzero(status_codes == 0)[0], row_numbers, reference_ids, targets_e164, variables
    )
    if progress:
        progress("validate", n, n)
    return ValidationResult(
        table=table,
        mapping=mapping,
        records=records,
        issues=issues.sorted(),
        statuses=statuses,
        targets_e164=targets_e164,
        reference_ids=reference_ids,
    )
