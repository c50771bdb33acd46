"""The run plan: which settings make a run, which batch each row goes in, stored in the journal.

A run is identified by the file's content hash and :func:`fingerprint_settings`; a new run's
valid rows are grouped into batches (:func:`assign_batches`, which ``plan`` shows too) and the
whole plan is written to the journal in one transaction (:func:`plan_run`). A full run after a
``--sample`` trial takes over the trial's batches and settled rows (:func:`earlier_trials`), so
nothing the trial sent is sent again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

from uploader.chunker import PlannedBatch, plan_batches, safe_stem
from uploader.config import ClientConfig, ReadOptions, UploadOptions
from uploader.errors import ConfigError
from uploader.journal import Journal, PlannedRow, RowEntry, RowState, RunInfo
from uploader.models import Record, RowStatus, ValidationResult

__all__ = [
    "TRIAL_SUFFIX",
    "Trial",
    "assign_batches",
    "earlier_trials",
    "fingerprint_settings",
    "plan_run",
    "run_fingerprint",
]

log = logging.getLogger("uploader")

#: State by name without the cost of an Enum call per row (100,000-row plans).
_ROW_STATES = {state.value: state for state in RowState}


def fingerprint_settings(
    read_options: ReadOptions, options: UploadOptions, client_config: ClientConfig
) -> dict[str, Any]:
    """The settings that make two runs "the same run" (with the file's content hash).

    Left out on purpose: speed knobs (concurrency, timeouts), the journal path and
    ``keep_paused`` (rerunning without it activates the batches a first run left paused).
    """
    read = asdict(read_options)
    read["column_map"] = dict(sorted(read_options.column_map.items()))
    return {
        "server_url": client_config.server_url.rstrip("/"),
        "read": read,
        "campaign_id": options.campaign_id,
        "mode": options.mode,
        "batch_size": options.batch_size,
        "batch_id": options.batch_id,
        "batch_id_template": options.batch_id_template,
        "expires_on": options.expires_on.isoformat() if options.expires_on else None,
        "call_rate": options.call_rate,
        "auto_call_rate": options.auto_call_rate,
        "sample": options.sample,
    }


def run_fingerprint(digest: str, settings: Mapping[str, Any]) -> str:
    """The run's identity in the journal: the file's content hash with its settings."""
    blob = json.dumps({"file": digest, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


#: Appended to the batch id template of a ``--sample`` trial, so the trial's batch never shares
#: an id with the batches of the full run that follows it.
TRIAL_SUFFIX = "-trial"


def assign_batches(
    records: Sequence[Record],
    options: UploadOptions,
    *,
    path: Path,
    digest: str,
    today: Date,
    skip: Collection[int] = (),
) -> list[PlannedBatch]:
    """The batches a new run puts ``records`` in (``plan`` shows the same ones).

    ``--sample N`` keeps the first N records, in batches named with :data:`TRIAL_SUFFIX`;
    ``skip`` leaves out rows an earlier trial already sent.
    """
    records = list(records)
    if options.sample is not None:
        records = records[: options.sample]
    if skip:
        records = [rec for rec in records if rec.row_number not in skip]
    if options.batch_id:
        if options.mode == "upload" and len(records) > options.batch_size:
            raise ConfigError(
                f"--batch-id names one batch but {len(records):,} rows need "
                f"{-(-len(records) // options.batch_size)} batches of {options.batch_size:,}; "
                "raise --batch-size or use a --batch-id-template"
            )
        size = max(1, len(records))
        return plan_batches(records, batch_size=size, ids=[options.batch_id])
    template = options.batch_id_template
    if options.sample is not None:
        template += TRIAL_SUFFIX
    return plan_batches(
        records,
        batch_size=options.batch_size,
        template=template,
        stem=safe_stem(path),
        digest=digest,
        day=today,
        campaign=options.campaign_id,
    )


@dataclass(frozen=True, slots=True)
class Trial:
    """Batches and settled rows of earlier ``--sample`` trials of the same file and settings."""

    rows: list[tuple[str, RowEntry]]  # (batch id, row)


def earlier_trials(
    journal: Journal, digest: str, fingerprint: str, settings: Mapping[str, Any]
) -> Trial | None:
    """A full run after a trial takes over the trial's batches and rows (never sent twice)."""
    if settings.get("sample") is not None:
        return None
    loose = ("sample", "plan", "batch_size")  # a trial may use another batch size
    same = json.loads(
        json.dumps({k: v for k, v in settings.items() if k not in loose}, default=str)
    )  # as the journal stores it (tuples become lists)
    rows: list[tuple[str, RowEntry]] = []
    for run in journal.runs_for_file(digest):
        other = {k: v for k, v in run.settings.items() if k not in loose}
        if run.fingerprint == fingerprint or run.settings.get("sample") is None or other != same:
            continue
        ids = {b.seq: b.batch_id for b in journal.batches(run)}
        rows.extend(
            (ids[r.batch_seq], r)
            for r in journal.rows(run, states=[RowState.ACCEPTED, RowState.REJECTED])
            if r.batch_seq is not None
        )
    return Trial(rows) if rows else None


def plan_run(
    journal: Journal,
    *,
    path: Path,
    digest: str,
    fingerprint: str,
    settings: dict[str, Any],
    validation: ValidationResult,
    options: UploadOptions,
    plan: list[PlannedBatch],
    verdicts: Mapping[int, tuple[str, str]] | None = None,
    trial: Trial | None = None,
) -> RunInfo:
    """Store the whole plan in one transaction: ``plan``'s batches and every row's state.

    ``plan`` is :func:`assign_batches`' (leaving out ``trial``'s rows) or a reviewed plan
    file's, whose ``verdicts`` mark rows not to send; ``trial`` holds an earlier trial's
    batches and rows, which this run takes over as they are.
    """
    verdicts = verdicts or {}
    carried: dict[int, tuple[int, RowEntry]] = {}  # row number -> (seq here, trial row)
    trial_batches: list[tuple[int, str, int]] = []
    if trial is not None:
        seq_here = {b: n for n, b in enumerate(dict.fromkeys(b for b, _ in trial.rows), start=1)}
        for batch_id, row in trial.rows:
            carried.setdefault(row.row_number, (seq_here[batch_id], row))
        sizes: dict[int, int] = {}
        for seq, _row in carried.values():
            sizes[seq] = sizes.get(seq, 0) + 1
        trial_batches = [(n, b, sizes.get(n, 0)) for b, n in seq_here.items()]
    if trial_batches:
        offset = len(trial_batches)
        if options.mode == "upload" and {b for _, b, _ in trial_batches} & {
            b.batch_id for b in plan
        }:
            raise ConfigError(
                "the trial went into the batch named by --batch-id, which already holds its "
                "file; send the rest with --mode add (or without --batch-id)"
            )
        plan = [PlannedBatch(b.seq + offset, b.batch_id, b.records) for b in plan]
    records = [rec for b in plan for rec in b.records]
    seq_of = {rec.row_number: b.seq for b in plan for rec in b.records}
    issues = validation.issues_by_row()
    table = validation.table
    rows: list[PlannedRow] = []
    by_number = {rec.row_number: rec for rec in records}
    for i, number in enumerate(table.row_numbers):
        number = int(number)
        status = str(validation.statuses[i])
        target = str(validation.targets_e164[i]) if validation.targets_e164 else ""
        ref = str(validation.reference_ids[i]) if validation.reference_ids else ""
        if status == RowStatus.BLANK:
            rows.append(PlannedRow(number, RowState.BLANK))
        elif status == RowStatus.REFUSED:
            message = "; ".join(issue.message for issue in issues.get(number, []))
            rows.append(PlannedRow(number, RowState.REFUSED, None, ref, target, None, message))
        elif number in carried:
            seq, old = carried[number]
            rows.append(
                PlannedRow(
                    number, old.state, seq, old.reference_id, old.target, old.variables, old.error
                )
            )
        elif number in by_number:
            req = by_number[number].request
            verdict, error = verdicts.get(number, ("pending", ""))
            rows.append(
                PlannedRow(
                    number,
                    _ROW_STATES[verdict],
                    seq_of[number],
                    req.reference_id,
                    req.target,
                    dict(req.request_variables),
                    error,
                )
            )
        else:  # valid but outside a --sample trial
            rows.append(PlannedRow(number, RowState.PENDING, None, ref, target, None))
    run = journal.create_run(
        fingerprint=fingerprint,
        file_path=str(path),
        file_hash=digest,
        settings=settings,
        batches=trial_batches + [(b.seq, b.batch_id, len(b.records)) for b in plan],
        rows=rows,
    )
    for seq, batch_id, _ in trial_batches:  # the trial made and filled them: verify only
        journal.batch_created(run, seq, preexisting=True)
        journal.batch_uploading(run, seq)  # no pending rows: nothing moves to sending
        journal.batch_uploaded(run, seq)
        log.info("batch %s: sent by an earlier trial; its rows are not sent again", batch_id)
    log.info("planned %d rows in %d batch(es)", len(records), len(plan))
    return run
