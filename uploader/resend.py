"""Fix-and-resend: a file of the rows that did not go through, which can be corrected and sent back.

``write_failed`` writes every refused, rejected, failed (or still unsent) row in the input's own
column order, plus one ``upload_error`` column saying why. Each error ends with the batch the
row belongs to, ``[batch contacts-20261129-1a2b3c4d-001]`` (refused rows, which never had a
batch, name the run's last batch), so the file carries its own way home.

Fed back to ``upload``, :func:`prepare_resend` recognises the file by its ``upload_error`` column:
the column is left out of the variables, and when no ``--batch-id`` is given and a batch named in
the file is still open on the server, the rows are *added* (``mode="add"``) to that batch. Copies
the server marked ``INVALID``/``DUPLICATE`` under the same reference ids are removed first, so the
fixed row can take their place; a reference id held with live content is left alone (the engine
reports it as a conflict rather than overwrite a call that may be under way).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uploader.config import ClientConfig, ReadOptions, UploadOptions
from uploader.errors import ConfigError, InputError, NotFoundError
from uploader.models import RowStatus, ValidationResult

if TYPE_CHECKING:
    from uploader.client import SyllableClient
    from uploader.engine import UploadResult

__all__ = ["FAILED_COLUMN", "batch_tag", "prepare_resend", "write_failed"]

log = logging.getLogger("uploader")

FAILED_COLUMN = "upload_error"
_TAG = re.compile(r"\[batch ([A-Za-z0-9._-]+)\]\s*$")
#: Batch statuses that still take requests.
_OPEN = {"PENDING", "ACTIVE", "PAUSED"}
_NOT_SENT = {RowStatus.REFUSED, RowStatus.REJECTED, RowStatus.FAILED, RowStatus.PENDING}


def batch_tag(error: str) -> str | None:
    """The batch id an ``upload_error`` text ends with, or None."""
    match = _TAG.search(error or "")
    return match.group(1) if match else None


def write_failed(out: Path | str, result: UploadResult, *, include_pending: bool = True) -> int:
    """Write the rows that were not accepted; returns how many. Format by extension (CSV/TSV/
    XLSX/ODS); the header is on row 1, the input's columns in their order, then ``upload_error``.
    """
    from uploader.sheetwriter import SheetLayout, write_sheet

    out = Path(out)
    validation = result.validation
    table = validation.table
    if out.resolve() == Path(table.path).resolve():
        raise ConfigError(f"--failed {out} would overwrite the input file; choose another name")
    headers = [str(h) for h in table.headers]
    stripped = [h.strip() for h in headers]
    # a resend of a failed file: its upload_error column is replaced
    drop = stripped.index(FAILED_COLUMN) if FAILED_COLUMN in stripped else -1
    header = [h for j, h in enumerate(headers) if j != drop] + [FAILED_COLUMN]
    last_batch = result.batches[-1].batch_id if result.batches else ""
    issues = validation.issues_by_row()
    picked: list[tuple[int, str]] = []
    for i, number in enumerate(table.row_numbers):
        outcome = result.outcomes.get(int(number))
        if outcome is None or outcome.status not in _NOT_SENT:
            continue
        if outcome.status == RowStatus.PENDING and (not include_pending or not outcome.batch_id):
            continue  # outside a trial: not a failure, the full run sends it
        if outcome.status == RowStatus.REFUSED:
            text = "; ".join(x.message for x in issues.get(int(number), [])) or outcome.error
            batch = last_batch
        else:
            text = outcome.error or f"{outcome.status.value}: not accepted"
            batch = outcome.batch_id
        if outcome.status == RowStatus.PENDING:
            text = "not sent yet (the run was interrupted); rerun the same command or resend"
        if batch:
            text = f"{text} [batch {batch}]"
        picked.append((i, f"{outcome.status.value}: {text}"))

    def rows() -> Iterator[tuple[list[str], list[Any]]]:
        for i, error in picked:
            cells = [str(col[i]) for j, col in enumerate(table.columns) if j != drop]
            yield cells, [error]

    fmt = out.suffix.lower().lstrip(".")
    fmt = {"tab": "tsv", "xls": "xlsx", "xlsm": "xlsx"}.get(fmt, fmt)
    if fmt not in {"csv", "tsv", "xlsx", "ods"}:
        raise ConfigError(f"--failed {out}: use a .csv, .tsv, .xlsx or .ods file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = [cells for cells, _ in islice(rows(), 200)]  # column widths: no need for all
    note = [("Rows not accepted",), ("Source file", str(table.path)), ("Rows", len(picked))]
    try:
        layout = SheetLayout(
            n_rows=len(picked),
            sample=sample,
            summary_rows=lambda: note,
            sheet=str(table.sheet or "Failed rows")[:31],
            status_col=len(header) - 1,
        )
        count = write_sheet(out, fmt, header, rows(), layout)
    except OSError as exc:
        message = f"cannot write the failed rows: {exc.strerror or exc}"
        raise InputError(message, path=str(out)) from exc
    log.info("failed rows written: %s (%d rows)", out, count)
    return count


def prepare_resend(
    validation: ValidationResult,
    read_options: ReadOptions,
    options: UploadOptions,
    client: SyllableClient | None,
    client_config: ClientConfig,
) -> tuple[ValidationResult, ReadOptions, UploadOptions]:
    """For a failed-rows file: drop ``upload_error`` from the variables and aim at the open batch.

    Anything else comes back unchanged (and nothing is asked of the server).
    """
    table = validation.table
    stripped = [h.strip() for h in table.headers]
    if FAILED_COLUMN not in stripped or FAILED_COLUMN in read_options.exclude:
        return validation, read_options, options
    from uploader.validation import validate

    read_options = dataclasses.replace(read_options, exclude=(*read_options.exclude, FAILED_COLUMN))
    validation = validate(table, read_options)
    if options.batch_id:
        return validation, read_options, options
    column = table.columns[stripped.index(FAILED_COLUMN)]
    tags = Counter(t for t in (batch_tag(str(v)) for v in column) if t)
    if not tags:
        return validation, read_options, options
    from uploader.client import SyllableClient

    api = client or SyllableClient(client_config)
    try:
        return validation, read_options, _aim(api, tags, validation, options)
    finally:
        if client is None:
            api.close()


def _aim(
    client: SyllableClient, tags: Counter[str], validation: ValidationResult, options: UploadOptions
) -> UploadOptions:
    """Options that add to the most-named batch that is still open (unchanged when none is)."""
    for batch_id, _ in tags.most_common():
        try:
            found = client.get_batch(batch_id)
        except NotFoundError:
            continue
        if found.get("deleted_at") or str(found.get("status") or "") not in _OPEN:
            log.info("resend: batch %s is %s; not adding to it", batch_id, found.get("status"))
            continue
        if options.campaign_id is not None and int(found["campaign_id"]) != options.campaign_id:
            continue
        _clear_rejected(client, batch_id, validation)
        log.info("resend: adding the fixed rows to open batch %s", batch_id)
        return dataclasses.replace(options, batch_id=batch_id, mode="add")
    log.info("resend: no batch named in the file is still open; new batches will be made")
    return options


def _clear_rejected(client: SyllableClient, batch_id: str, validation: ValidationResult) -> None:
    """Remove the server's INVALID/DUPLICATE copies of the rows about to be resent."""
    ours = {rec.request.reference_id for rec in validation.records}
    stale = sorted(
        {
            str(item.get("reference_id"))
            for item in client.results(batch_id)
            if str(item.get("reference_id")) in ours
            and str(item.get("request_status") or "") in {"INVALID", "DUPLICATE"}
        }
    )
    if stale:
        client.remove_requests(batch_id, stale)
        log.info("resend: removed %d rejected copy(ies) from batch %s", len(stale), batch_id)
