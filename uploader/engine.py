"""``upload()``: every valid row into an outbound batch exactly once, resumable at any point.

The run is planned once (rows grouped into batches with stable ids, :mod:`uploader.runplan`) and
stored in the journal; then each batch walks its lifecycle (:mod:`uploader.runner`), every step
announced in the journal before it happens::

    planned -> creating -> created (paused) -> uploading -> uploaded -> verified -> active

``upload`` mode sends one CSV per batch and waits for the server to process it; ``add`` mode sends
one request per row from a pool of ``concurrency`` threads sharing one pooled httpx client
(measured fastest here: see ``bench/bench_add.py``). Whatever the journal left half-done (a
batch in ``creating``/``uploading``, rows in ``sending``) is reconciled with the server's state
before anything is sent again. A batch is only activated once the server's counts match what was
sent; otherwise it stays paused and the result says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import Any

from uploader.chunker import PlannedBatch, input_digest, safe_stem
from uploader.client import SyllableClient
from uploader.config import ClientConfig, ReadOptions, UploadOptions
from uploader.errors import (
    ConfigError,
    ConfirmationRequired,
    RetriesExhausted,
    TransientApiError,
)
from uploader.journal import BatchState, Journal, RunInfo, default_journal_path
from uploader.models import ProgressCallback, RowOutcome, RowStatus, ValidationResult
from uploader.runner import BatchRunner
from uploader.runplan import (
    assign_batches,
    earlier_trials,
    fingerprint_settings,
    plan_run,
    run_fingerprint,
)

__all__ = [
    "BatchInfo",
    "UploadResult",
    "assign_batches",
    "fingerprint_settings",
    "run_fingerprint",
    "upload",
]

log = logging.getLogger("uploader")


def _noop(stage: str, done: int, total: int | None) -> None:
    """Progress sink when the caller passes none."""


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """One batch of the run as the journal ends it."""

    batch_id: str
    state: str
    rows: int
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    preexisting: bool = False
    error: str = ""


@dataclass(slots=True)
class UploadResult:
    """What became of every row and batch; ``summary()`` equals the CLI's ``--json``."""

    validation: ValidationResult
    outcomes: dict[int, RowOutcome]
    batches: list[BatchInfo]
    counts: dict[str, int]
    file: Path
    mode: str
    campaign_id: int | None
    journal_path: Path
    fingerprint: str
    #: Not part of the summary (a rerun must print the same summary): what *this* run did.
    resumed: bool = False
    requests_sent: int = 0
    elapsed: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: The server's per-request results, keyed ``(batch_id, reference_id)``, for the batches
    #: this run verified (the reporter's ``results`` argument; other batches are not in it).
    server_results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every non-blank row is accepted (and every batch verified), else 1."""
        bad = sum(self.counts.get(k, 0) for k in ("refused", "rejected", "failed", "pending"))
        if self.extra.get("sample") is not None:  # a trial leaves the rest pending on purpose
            bad = sum(self.counts.get(k, 0) for k in ("refused", "rejected", "failed"))
            bad += sum(b.pending for b in self.batches)
        unverified = any(b.error for b in self.batches)
        return 1 if bad or unverified else 0

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "mode": self.mode,
            "campaign_id": self.campaign_id,
            "rows_read": self.validation.table.n_rows,
            "counts": dict(self.counts),
            "batches": [asdict(b) for b in self.batches],
            "journal": str(self.journal_path),
            "exit_code": self.exit_code,
        }


def _check_options(options: UploadOptions) -> None:
    if options.mode not in ("upload", "add"):
        raise ConfigError(f"mode must be 'upload' or 'add', not {options.mode!r}")
    if options.campaign_id is None and not (options.mode == "add" and options.batch_id):
        raise ConfigError("--campaign-id is required (the campaign new batches call for)")
    if options.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {options.concurrency}")
    if options.auto_call_rate and options.expires_on is None:
        raise ConfigError("--auto-call-rate needs --expires-on (the deadline to pace for)")


# --------------------------------------------------------------------------- entry point


def upload(
    path: Path | str,
    read_options: ReadOptions | None = None,
    upload_options: UploadOptions | None = None,
    client_config: ClientConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
    client: SyllableClient | None = None,
    validation: ValidationResult | None = None,
    today: Date | None = None,
    sleep: Callable[[float], None] = time.sleep,
    confirm: Callable[[dict[str, Any]], bool] | None = None,
    checkpoint: Callable[[str], None] | None = None,
) -> UploadResult:
    """Read, validate and send ``path``; resume whatever an earlier run of it left unfinished.

    Returns every row's outcome. Raises :class:`~uploader.errors.UploaderError` subclasses only
    when the run cannot go on (unreadable file, bad key, API unreachable, journal locked).

    A new run of more than ``large_send_threshold`` rows needs ``confirmed`` or a ``confirm``
    callback (given counts per batch) that says yes, else :class:`ConfirmationRequired`.
    ``plan_file`` applies a reviewed plan (:mod:`uploader.planner`); a file with an
    ``upload_error`` column is a fix-and-resend file (:mod:`uploader.resend`).
    ``checkpoint(name)`` is called at the named points of the batch lifecycle (``creating``,
    ``created``, ``uploading``, ``uploaded``, ``add``, ``verified``, ``activated``,
    ``between``); the crash tests stop a run there.
    """
    started = time.monotonic()
    path = Path(path)
    read_options = read_options or ReadOptions()
    options = upload_options or UploadOptions()
    client_config = client_config or ClientConfig()
    progress = progress or _noop
    _check_options(options)
    digest = input_digest(path)
    journal_path = options.journal_path or default_journal_path(digest, safe_stem(path))
    if validation is None:
        from uploader.validation import validate

        validation = validate(path, read_options, progress=progress)
    from uploader.resend import prepare_resend

    validation, read_options, options = prepare_resend(
        validation, read_options, options, client, client_config
    )
    settings = fingerprint_settings(read_options, options, client_config)
    reviewed = None
    if options.plan_file is not None:
        from uploader.planner import read_plan

        reviewed = read_plan(options.plan_file)
        settings["plan"] = reviewed.plan_id  # an applied plan is its own run
    fingerprint = run_fingerprint(digest, settings)
    with Journal(journal_path) as journal:
        run = journal.find_run(fingerprint)
        resumed = run is not None
        if run is None:
            clash = journal.open_runs_for_file(digest)
            if clash:
                raise ConfigError(
                    f"journal {journal_path} holds an unfinished run of this file with other "
                    "settings; rerun it with the same settings to finish it first, or pass a "
                    "new --journal (different settings could send rows twice)"
                )
            plan, verdicts, trial = None, {}, None
            if reviewed is not None:
                from uploader.planner import check_plan

                preset = check_plan(
                    reviewed,
                    path=path,
                    digest=digest,
                    settings=settings,
                    validation=validation,
                    client=client,
                    client_config=client_config,
                )
                plan, verdicts = preset.batches, preset.verdicts
            else:
                trial = earlier_trials(journal, digest, fingerprint, settings)
                plan = assign_batches(
                    validation.records,
                    options,
                    path=path,
                    digest=digest,
                    today=today or Date.today(),
                    skip={row.row_number for _, row in trial.rows} if trial else (),
                )
            _guard_large_send(plan, verdicts, options, confirm, path)
            run = plan_run(
                journal,
                path=path,
                digest=digest,
                fingerprint=fingerprint,
                settings=settings,
                validation=validation,
                options=options,
                plan=plan,
                verdicts=verdicts,
                trial=trial,
            )
        else:
            log.info("resuming run from journal %s", journal_path)
        own_client = client is None
        api = client or SyllableClient(
            client_config, max_connections=max(64, options.concurrency * 2)
        )
        runner = BatchRunner(
            api,
            journal,
            run,
            options,
            validation.mapping.variables,
            progress,
            sleep,
            checkpoint,
        )
        try:
            runner.execute()
        except TransientApiError as exc:
            if isinstance(exc, RetriesExhausted):
                raise
            raise RetriesExhausted(str(exc), status_code=exc.status_code) from exc
        finally:
            if own_client:
                api.close()
        result = _result(journal, run, validation, options, path, journal_path)
        result.extra["sample"] = options.sample
        if options.failed_path is not None:
            from uploader.resend import write_failed

            result.extra["failed_rows"] = write_failed(options.failed_path, result)
            result.extra["failed_file"] = str(options.failed_path)
        result.resumed = resumed
        result.requests_sent = runner.sent
        result.server_results = {
            (batch_id, str(item.get("reference_id", ""))): item
            for batch_id, items in runner.server_results.items()
            for item in items
        }
        result.elapsed = time.monotonic() - started
        if _finished(result, options):
            journal.finish_run(run, result.summary())
    return result


def _guard_large_send(
    plan: Sequence[PlannedBatch],
    verdicts: Mapping[int, tuple[str, str]],
    options: UploadOptions,
    confirm: Callable[[dict[str, Any]], bool] | None,
    path: Path,
) -> None:
    """Above ``large_send_threshold`` rows a new run needs a yes before anything is sent."""
    per_batch = [
        (b.batch_id, sum(1 for rec in b.records if rec.row_number not in verdicts)) for b in plan
    ]
    total = sum(n for _, n in per_batch)
    limit = options.large_send_threshold
    if total <= limit or options.confirmed:
        return
    summary = {
        "file": str(path),
        "rows": total,
        "threshold": limit,
        "batches": [{"batch_id": b, "rows": n} for b, n in per_batch],
    }
    if confirm is None:
        raise ConfirmationRequired(
            f"{total:,} rows to send is above the large-send threshold ({limit:,}) and "
            "nobody can be asked here (not a terminal); nothing was sent. Pass --yes, or set "
            "assume_yes = true (or a higher large_send_threshold) in the profile"
        )
    if not confirm(summary):
        raise ConfirmationRequired("large send not confirmed; nothing was sent")
    log.info("large send of %d rows confirmed", total)


def _finished(result: UploadResult, options: UploadOptions) -> bool:
    final = {BatchState.ACTIVE} | ({BatchState.VERIFIED} if options.keep_paused else set())
    return (
        not any(b.pending for b in result.batches)  # a trial's unbatched rows wait on purpose
        and not result.counts.get("failed")
        and all(b.state in final for b in result.batches)
    )


def _result(
    journal: Journal,
    run: RunInfo,
    validation: ValidationResult,
    options: UploadOptions,
    path: Path,
    journal_path: Path,
) -> UploadResult:
    outcomes = journal.outcomes(run)
    counts = {
        s.value: 0
        for s in (
            RowStatus.ACCEPTED,
            RowStatus.REFUSED,
            RowStatus.REJECTED,
            RowStatus.FAILED,
            RowStatus.PENDING,
            RowStatus.BLANK,
        )
    }
    per_batch: dict[str, dict[str, int]] = {}
    for outcome in outcomes.values():
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        if outcome.batch_id:
            tally = per_batch.setdefault(outcome.batch_id, {})
            tally[outcome.status.value] = tally.get(outcome.status.value, 0) + 1
    batches = []
    for b in journal.batches(run):
        tally = per_batch.get(b.batch_id, {})
        batches.append(
            BatchInfo(
                batch_id=b.batch_id,
                state=b.state.value,
                rows=b.row_count,
                accepted=tally.get("accepted", 0),
                rejected=tally.get("rejected", 0),
                failed=tally.get("failed", 0),
                pending=tally.get("pending", 0),
                preexisting=b.preexisting,
                error=b.error,
            )
        )
    return UploadResult(
        validation=validation,
        outcomes=outcomes,
        batches=batches,
        counts=counts,
        file=path,
        mode=options.mode,
        campaign_id=options.campaign_id,
        journal_path=journal_path,
        fingerprint=run.fingerprint,
    )
