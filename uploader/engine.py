"""``upload()``: every valid row into an outbound batch exactly once, resumable at any point.

The run is planned once (rows grouped into batches with stable ids) and stored in the journal;
then each batch walks its lifecycle, every step announced in the journal before it happens::

    planned -> creating -> created (paused) -> uploading -> uploaded -> verified -> active

``upload`` mode sends one CSV per batch and waits for the server to process it; ``add`` mode sends
one request per row from a pool of ``concurrency`` threads sharing one pooled httpx client
(measured fastest here: see ``bench/bench_add.py``). Whatever the journal left half-done (a
batch in ``creating``/``uploading``, rows in ``sending``) is reconciled with the server's state
before anything is sent again. A batch is only activated once the server's counts match what was
sent; otherwise it stays paused and the result says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from uploader.chunker import PlannedBatch, content_hash, plan_batches, safe_stem, upload_csv
from uploader.client import SyllableClient, batch_has_content, requests_match
from uploader.config import ClientConfig, ReadOptions, UploadOptions
from uploader.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConfirmationRequired,
    ConflictError,
    InputError,
    NotFoundError,
    PermanentApiError,
    RetriesExhausted,
    TransientApiError,
)
from uploader.journal import (
    BatchEntry,
    BatchState,
    Journal,
    PlannedRow,
    RowEntry,
    RowState,
    RunInfo,
    default_journal_path,
)
from uploader.models import (
    CommunicationRequest,
    ProgressCallback,
    Record,
    RowOutcome,
    RowStatus,
    ValidationResult,
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

#: Server request statuses that mean "the server took the row but will never call it".
REJECTED_STATUSES = {
    "INVALID": "the server marked the number INVALID",
    "DUPLICATE": "the server marked the row DUPLICATE (reference_id repeated)",
}


#: State by name without the cost of an Enum call per row (100,000-row plans).
_ROW_STATES = {state.value: state for state in RowState}


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


# --------------------------------------------------------------------------- planning


def fingerprint_settings(
    read_options: ReadOptions, options: UploadOptions, client_config: ClientConfig
) -> dict[str, Any]:
    """The settings that make two runs "the same run" (with the file's content hash).

    Left out on purpose: speed knobs (concurrency, timeouts), the journal path and
    ``keep_paused`` (rerunning without it activates the batches a first run left paused).
    """
    read = {k: v for k, v in asdict(read_options).items()}
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


def _fingerprint(digest: str, settings: Mapping[str, Any]) -> str:
    blob = json.dumps({"file": digest, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


#: Public name for the run identity (the planner looks runs up with it).
run_fingerprint = _fingerprint

#: Appended to the batch id template of a ``--sample`` trial, so the trial's batch never shares
#: an id with the batches of the full run that follows it.
TRIAL_SUFFIX = "-trial"


def _check_options(options: UploadOptions) -> None:
    if options.mode not in ("upload", "add"):
        raise ConfigError(f"mode must be 'upload' or 'add', not {options.mode!r}")
    if options.campaign_id is None and not (options.mode == "add" and options.batch_id):
        raise ConfigError("--campaign-id is required (the campaign new batches call for)")
    if options.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {options.concurrency}")
    if options.auto_call_rate and options.expires_on is None:
        raise ConfigError("--auto-call-rate needs --expires-on (the deadline to pace for)")


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
class _Trial:
    """Batches and settled rows of earlier ``--sample`` trials of the same file and settings."""

    rows: list[tuple[str, RowEntry]]  # (batch id, row)


def _earlier_trials(
    journal: Journal, digest: str, fingerprint: str, settings: Mapping[str, Any]
) -> _Trial | None:
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
    return _Trial(rows) if rows else None


def _plan_run(
    journal: Journal,
    *,
    path: Path,
    digest: str,
    fingerprint: str,
    settings: dict[str, Any],
    validation: ValidationResult,
    options: UploadOptions,
    today: Date,
    plan: list[PlannedBatch] | None = None,
    verdicts: Mapping[int, tuple[str, str]] | None = None,
    trial: _Trial | None = None,
) -> RunInfo:
    """Group the valid records into batches and store the whole plan in one transaction.

    ``plan``/``verdicts`` come from a reviewed plan file (rows with a verdict are not sent);
    ``trial`` holds an earlier trial's batches and rows, which this run takes over as they are.
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
    if plan is None:
        plan = assign_batches(
            validation.records, options, path=path, digest=digest, today=today, skip=carried
        )
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


# --------------------------------------------------------------------------- the runner


class _Runner:
    """Drives each batch of one run through its lifecycle; all state lives in the journal."""

    def __init__(
        self,
        api: SyllableClient,
        journal: Journal,
        run: RunInfo,
        options: UploadOptions,
        variables: Sequence[str],
        progress: ProgressCallback,
        sleep: Callable[[float], None],
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.journal = journal
        self.run = run
        self.options = options
        self.variables = list(variables)
        self.progress = progress
        self.sleep = sleep
        self.checkpoint = checkpoint or _no_checkpoint
        self.sent = 0
        self._cache: dict[str, list[dict[str, Any]]] = {}
        #: The server's results per batch as read by this run's verification (for the report).
        self.server_results: dict[str, list[dict[str, Any]]] = {}
        self._sent_lock = threading.Lock()
        counts = journal.counts(run)
        self.total = sum(b.row_count for b in journal.batches(run))
        self.done = counts.get(RowState.ACCEPTED, 0) + counts.get(RowState.REJECTED, 0)

    # -- helpers

    def _request(self, row: RowEntry) -> CommunicationRequest:
        return CommunicationRequest(row.reference_id, row.target, row.variables)

    def _batch(self, seq: int) -> BatchEntry:
        return next(b for b in self.journal.batches(self.run) if b.seq == seq)

    def _count_sent(self, n: int = 1) -> None:
        with self._sent_lock:
            self.sent += n

    def _tick(self, n: int) -> None:
        with self._sent_lock:
            self.done += n
            done = self.done
        self.progress("upload", done, self.total)

    # -- the lifecycle

    def execute(self) -> None:
        batches = self.journal.batches(self.run)
        self.progress("upload", self.done, self.total)
        if self.options.mode == "upload":
            # batches are independent: up to 16 walk their lifecycle at once (the journal is
            # thread-safe), so one batch's latency overlaps another's processing
            with ThreadPoolExecutor(min(16, max(1, len(batches)))) as pool:
                list(pool.map(self._one_upload_batch, batches))
        else:
            for batch in batches:
                entry = self._ensure_created(batch)
                self._fill(entry)
                self._verify_and_activate(self._batch(batch.seq))
                self.checkpoint("between")

    def _one_upload_batch(self, batch: BatchEntry) -> None:
        entry = self._ensure_created(batch)
        self._ensure_uploaded(entry)
        self.checkpoint("between")
        self._settle_upload(self._batch(batch.seq))
        self._verify_and_activate(self._batch(batch.seq))

    def _ensure_created(self, batch: BatchEntry) -> BatchEntry:
        """planned/creating -> created; an earlier attempt's batch is found, never made twice."""
        if batch.state not in (BatchState.PLANNED, BatchState.CREATING):
            return batch
        opts = self.options
        preexisting = False
        if batch.state == BatchState.CREATING or opts.batch_id:
            # reconcile first: the earlier attempt (or the user) may already have made it
            try:
                found = self.api.get_batch(batch.batch_id)
            except NotFoundError:
                found = None
            if found is not None:
                if found.get("deleted_at"):
                    raise ConflictError(
                        f"batch {batch.batch_id} was deleted on the server "
                        f"({found.get('deleted_reason') or 'no reason given'})"
                    )
                if opts.campaign_id is not None and int(found["campaign_id"]) != opts.campaign_id:
                    raise ConflictError(
                        f"batch {batch.batch_id} belongs to campaign {found['campaign_id']}, "
                        f"not {opts.campaign_id}"
                    )
                preexisting = batch.state == BatchState.PLANNED
                self.journal.batch_created(self.run, batch.seq, preexisting=preexisting)
                log.info("batch %s: already on the server", batch.batch_id)
                return self._batch(batch.seq)
        if opts.campaign_id is None:
            raise ConfigError(f"batch {batch.batch_id} does not exist; --campaign-id is needed")
        self.journal.batch_creating(self.run, batch.seq)
        self.checkpoint("creating")
        self.api.create_batch(
            batch.batch_id,
            opts.campaign_id,
            expires_on=opts.expires_on,
            paused=True,
            call_rate=opts.call_rate,
            auto_call_rate=opts.auto_call_rate or None,
        )
        self.checkpoint("created")
        self.journal.batch_created(self.run, batch.seq)
        log.info("batch %s: created (paused)", batch.batch_id)
        return self._batch(batch.seq)

    # -- upload mode

    def _ensure_uploaded(self, batch: BatchEntry) -> None:
        """created/uploading -> uploaded: one CSV, sent at most once."""
        if batch.state not in (BatchState.CREATED, BatchState.UPLOADING):
            return
        if batch.state == BatchState.UPLOADING or batch.preexisting:
            found = self.api.get_batch(batch.batch_id)
            if batch_has_content(found):
                if batch.state == BatchState.CREATED:  # an existing batch: the journal's order
                    self.journal.batch_uploading(self.run, batch.seq)
                self.journal.batch_uploaded(self.run, batch.seq)
                log.info("batch %s: file already on the server", batch.batch_id)
                return
        rows = self.journal.rows(
            self.run, batch_seq=batch.seq, states=[RowState.PENDING, RowState.SENDING]
        )
        if not rows:
            self.journal.batch_uploading(self.run, batch.seq)
            self.journal.batch_uploaded(self.run, batch.seq)
            return
        content = upload_csv(
            [_as_record(r, self._request(r)) for r in rows],
            self.variables,
        )
        self.journal.batch_uploading(self.run, batch.seq)
        self.checkpoint("uploading")
        self.api.upload_batch(batch.batch_id, content, f"{batch.batch_id}.csv")
        self._count_sent(len(rows))
        self.checkpoint("uploaded")
        self.journal.batch_uploaded(self.run, batch.seq)
        log.info("batch %s: uploaded %d rows", batch.batch_id, len(rows))

    def _wait_processed(self, batch: BatchEntry, expected: int) -> dict[str, Any] | None:
        """Poll until the server has processed the file; None when it is still busy."""
        deadline = time.monotonic() + self.options.wait_timeout
        delay = 0.05
        while True:
            found = self.api.get_batch(batch.batch_id)
            held = sum(int(v or 0) for v in (found.get("status_counts") or {}).values())
            status = str(found.get("status") or "")
            if status == "FAILED" or (status != "PENDING" and found.get("upload_filename")):
                return found
            if expected and held >= expected:
                return found
            if time.monotonic() >= deadline:
                return None
            self.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def _settle_upload(self, batch: BatchEntry) -> None:
        """uploaded: every sent row becomes accepted/rejected from the server's own results."""
        if batch.state != BatchState.UPLOADED:
            return
        open_rows = self.journal.rows(
            self.run, batch_seq=batch.seq, states=[RowState.SENDING, RowState.FAILED]
        )
        if not open_rows:
            return
        found = self._wait_processed(batch, batch.row_count)
        if found is None:
            self.journal.batch_unverified(
                self.run,
                batch.seq,
                f"still processing after {self.options.wait_timeout:.0f}s; rerun to check again",
            )
            return
        if found.get("status") == "FAILED":
            reason = found.get("error_message") or "the server could not process the file"
            self.journal.rows_settled(
                self.run, failed=[(r.row_number, f"batch failed: {reason}") for r in open_rows]
            )
            self.journal.batch_unverified(self.run, batch.seq, f"upload failed: {reason}")
            self._tick(len(open_rows))
            return
        self._settle_from_results(batch, open_rows, missing_is="failed")

    def _settle_from_results(
        self, batch: BatchEntry, rows: Sequence[RowEntry], *, missing_is: str
    ) -> list[RowEntry]:
        """Match journal rows with the server's results; returns rows the server lacks.

        ``missing_is="failed"`` marks absent rows failed (upload mode: the file was processed
        without them); ``"pending"`` puts them back in the queue (add mode: safe to send).
        """
        results = self.api.results(batch.batch_id)
        if missing_is == "failed":
            self._cache[batch.batch_id] = results  # verification reads the same answer
        by_ref: dict[str, list[dict[str, Any]]] = {}
        for item in results:
            by_ref.setdefault(str(item.get("reference_id", "")), []).append(item)
        accepted: list[int] = []
        rejected: list[tuple[int, str]] = []
        missing: list[RowEntry] = []
        for row in rows:
            verdict = _verdict(by_ref.get(row.reference_id, []), self._request(row))
            if verdict is None:
                missing.append(row)
            elif verdict == "":
                accepted.append(row.row_number)
            else:
                rejected.append((row.row_number, verdict))
        failed: list[tuple[int, str]] = []
        if missing_is == "failed":
            failed = [
                (r.row_number, "not in the batch after the upload was processed") for r in missing
            ]
        self.journal.rows_settled(self.run, accepted=accepted, rejected=rejected, failed=failed)
        if missing_is == "pending" and missing:
            self.journal.rows_pending(self.run, [r.row_number for r in missing])
        self._tick(len(accepted) + len(rejected))
        return missing

    # -- add mode

    def _fill(self, batch: BatchEntry) -> None:
        """created/uploading -> uploaded, one request per row with bounded concurrency."""
        if batch.state not in (BatchState.CREATED, BatchState.UPLOADING):
            return
        self.journal.batch_filling(self.run, batch.seq)
        unsure = self.journal.rows(
            self.run, batch_seq=batch.seq, states=[RowState.SENDING, RowState.FAILED]
        )
        if unsure:  # maybe applied before a crash: ask the server, never resend blindly
            log.info("batch %s: reconciling %d unsettled row(s)", batch.batch_id, len(unsure))
            self._settle_from_results(batch, unsure, missing_is="pending")
        pending = self.journal.rows(self.run, batch_seq=batch.seq, states=[RowState.PENDING])
        if pending:
            self._send_rows(batch, pending)
        left = self.journal.rows(
            self.run, batch_seq=batch.seq, states=[RowState.PENDING, RowState.SENDING]
        )
        if not left:
            self.journal.batch_uploaded(self.run, batch.seq)

    def _send_rows(self, batch: BatchEntry, rows: Sequence[RowEntry]) -> None:
        """Send rows from ``concurrency`` threads sharing one pooled client.

        Rows are announced (``sending``) in groups just before their requests leave; verdicts
        come back on a queue and are committed in groups (a crash in between leaves them in
        ``sending``, which a rerun reconciles with the server, so nothing is lost or resent).
        """
        concurrency = max(1, self.options.concurrency)
        queue_depth = concurrency * 3
        group_size = concurrency * 4
        verdicts: SimpleQueue[tuple[RowEntry, str, str, BaseException | None]] = SimpleQueue()
        settle = _Settlements(self, flush_every=max(64, concurrency * 2))
        streak = _Streak(limit=max(8, concurrency))
        remaining = iter(rows)
        announced: list[RowEntry] = []
        in_flight = 0
        fatal: BaseException | None = None

        def work(row: RowEntry) -> None:
            try:
                kind, message = self._send_one(batch, row)
                verdicts.put((row, kind, message, None))
            except BaseException as exc:  # handed to the main thread, which decides
                verdicts.put((row, "", "", exc))

        with ThreadPoolExecutor(concurrency, thread_name_prefix="uploader-add") as pool:
            while True:
                while fatal is None and in_flight < queue_depth:
                    if not announced:
                        announced = [r for _, r in zip(range(group_size), remaining, strict=False)]
                        if not announced:
                            break
                        self.journal.rows_sending(self.run, [r.row_number for r in announced])
                    pool.submit(work, announced.pop(0))
                    in_flight += 1
                if in_flight == 0:
                    break
                # one wake-up takes every verdict that is ready (fewer GIL hand-offs)
                ready = [verdicts.get()]
                while not verdicts.empty():
                    ready.append(verdicts.get_nowait())
                for row, kind, message, error in ready:
                    in_flight -= 1
                    if error is not None:
                        if isinstance(error, RetriesExhausted):
                            settle.add(row, "failed", str(error))
                            try:
                                streak.failure(error)
                            except RetriesExhausted as stop:
                                fatal = fatal or stop
                        else:
                            fatal = fatal or error
                        continue
                    streak.success()
                    settle.add(row, kind, message)
                    self.checkpoint("add")
        settle.flush()
        if announced:  # announced but never sent because the run stopped: not on the server
            self.journal.rows_pending(self.run, [r.row_number for r in announced])
        if fatal is not None:
            raise fatal

    def _send_one(self, batch: BatchEntry, row: RowEntry) -> tuple[str, str]:
        """One row's request; returns its verdict (``accepted``/``rejected``, message)."""
        request = self._request(row)
        try:
            answer = self.api.add_request(batch.batch_id, request)
        except (AuthError, NotFoundError):
            raise
        except PermanentApiError as exc:  # the server's own words, recorded on the row
            if isinstance(exc, ConflictError) or exc.status_code not in (401, 403):
                return "rejected", str(exc.fields.get("server_message") or exc)
            raise
        finally:
            self._count_sent()
        status = str(answer.get("request_status", "")) if isinstance(answer, dict) else ""
        if status in REJECTED_STATUSES:
            return "rejected", REJECTED_STATUSES[status]
        return "accepted", ""

    # -- verification and activation

    def _verify_and_activate(self, batch: BatchEntry) -> None:
        """uploaded -> verified -> active, only when the server holds exactly what we sent."""
        if batch.state == BatchState.UPLOADED:
            reason = self._verify(batch)
            if reason:
                self.journal.batch_unverified(self.run, batch.seq, reason)
                log.warning("batch %s stays paused: %s", batch.batch_id, reason)
                return
            self.journal.batch_verified(self.run, batch.seq)
            self.checkpoint("verified")
            batch = self._batch(batch.seq)
        if batch.state != BatchState.VERIFIED or self.options.keep_paused:
            return
        if not batch.preexisting:
            self.api.update_batch(batch.batch_id, paused=False)
            self.checkpoint("activated")
            log.info("batch %s: verified and activated", batch.batch_id)
        else:
            log.info(
                "batch %s: existed before this run; its paused setting is left alone",
                batch.batch_id,
            )
        self.journal.batch_activated(self.run, batch.seq)

    def _verify(self, batch: BatchEntry) -> str:
        """Why the batch must stay paused, or "" when the server matches what we sent."""
        rows = self.journal.rows(self.run, batch_seq=batch.seq, variables=False)
        unsettled = [r for r in rows if r.state in (RowState.PENDING, RowState.SENDING)]
        failed = [r for r in rows if r.state == RowState.FAILED]
        if unsettled:
            return f"{len(unsettled)} row(s) not settled yet; rerun to finish"
        if failed:
            return f"{len(failed)} row(s) failed; rerun the same command to retry them"
        results = self._cache.pop(batch.batch_id, None)
        if results is None and not batch.preexisting:
            # add mode: every row got its own answer, so the server's counts must equal the
            # rows it stored for us; only a mismatch needs the full results to say which
            stored_msgs = set(REJECTED_STATUSES.values())
            stored = sum(
                1
                for r in rows
                if r.state == RowState.ACCEPTED
                or (r.state == RowState.REJECTED and r.error in stored_msgs)
            )
            found = self.api.get_batch(batch.batch_id)
            if sum(int(v or 0) for v in (found.get("status_counts") or {}).values()) == stored:
                return ""
        if results is None:
            results = self.api.results(batch.batch_id)
        self.server_results[batch.batch_id] = results
        by_ref: dict[str, list[dict[str, Any]]] = {}
        for item in results:
            by_ref.setdefault(str(item.get("reference_id", "")), []).append(item)
        accepted = [r for r in rows if r.state == RowState.ACCEPTED]
        wrong = [
            r
            for r in accepted
            if not any(str(i.get("target")) == r.target for i in by_ref.get(r.reference_id, []))
        ]
        if wrong:
            return f"{len(wrong)} accepted row(s) are missing or different on the server"
        if batch.preexisting:
            return ""
        ours = {r.reference_id for r in rows}
        ours_held = sum(len(items) for ref, items in by_ref.items() if ref in ours)
        if ours_held != len(results):
            return f"the batch holds {len(results) - ours_held} request(s) this run did not send"
        found = self.api.get_batch(batch.batch_id)
        counted = sum(int(v or 0) for v in (found.get("status_counts") or {}).values())
        if counted != ours_held:
            return f"the server counts {counted} request(s), this run sent {ours_held}"
        return ""


def _no_checkpoint(name: str) -> None:
    """Default checkpoint: nothing (tests pass one to stop a run at a named point)."""


class _Settlements:
    """Verdicts waiting to be committed together (group commit, one transaction per flush)."""

    def __init__(self, runner: _Runner, flush_every: int) -> None:
        self.runner = runner
        self.flush_every = flush_every
        self.accepted: list[int] = []
        self.rejected: list[tuple[int, str]] = []
        self.failed: list[tuple[int, str]] = []
        self.last = time.monotonic()

    def add(self, row: RowEntry, kind: str, message: str) -> None:
        if kind == "accepted":
            self.accepted.append(row.row_number)
        elif kind == "rejected":
            self.rejected.append((row.row_number, message))
        else:
            self.failed.append((row.row_number, message))
        waiting = len(self.accepted) + len(self.rejected) + len(self.failed)
        if waiting >= self.flush_every or time.monotonic() - self.last > 0.25:
            self.flush()

    def flush(self) -> None:
        runner = self.runner
        settled = len(self.accepted) + len(self.rejected)
        if self.accepted or self.rejected or self.failed:
            runner.journal.rows_settled(
                runner.run, accepted=self.accepted, rejected=self.rejected, failed=self.failed
            )
        self.accepted, self.rejected, self.failed = [], [], []
        self.last = time.monotonic()
        if settled:
            runner._tick(settled)


class _Streak:
    """Stops a run whose every request gives up: the API is down, not one row."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()

    def success(self) -> None:
        with self.lock:
            self.count = 0

    def failure(self, exc: ApiError) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.limit:
                raise RetriesExhausted(
                    f"the API kept failing ({self.count} requests in a row gave up); "
                    f"last: {exc}. Rerun the same command to resume.",
                    status_code=exc.status_code,
                )


def _verdict(found: Sequence[Mapping[str, Any]], ours: CommunicationRequest) -> str | None:
    """None: the server lacks the row; "": it holds ours; else why the row is rejected."""
    if not found:
        return None
    for item in found:
        status = str(item.get("request_status") or "")
        if status not in REJECTED_STATUSES and requests_match(item, ours):
            return ""
    for item in found:
        status = str(item.get("request_status") or "")
        if status in REJECTED_STATUSES:
            return REJECTED_STATUSES[status]
    return "the batch already holds this reference_id with a different target or variables"


def _as_record(row: RowEntry, request: CommunicationRequest) -> Record:
    return Record(row.row_number, request)


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
    try:
        digest = content_hash(path)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
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
    fingerprint = _fingerprint(digest, settings)
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
                trial = _earlier_trials(journal, digest, fingerprint, settings)
                plan = assign_batches(
                    validation.records,
                    options,
                    path=path,
                    digest=digest,
                    today=today or Date.today(),
                    skip={row.row_number for _, row in trial.rows} if trial else (),
                )
            _guard_large_send(plan, verdicts, options, confirm, path)
            run = _plan_run(
                journal,
                path=path,
                digest=digest,
                fingerprint=fingerprint,
                settings=settings,
                validation=validation,
                options=options,
                today=today or Date.today(),
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
        runner = _Runner(
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
