"""The batch runner: drives each batch of one run through its lifecycle, all state in the journal.

Every step is announced in the journal before it happens::

    planned -> creating -> created (paused) -> uploading -> uploaded -> verified -> active

``upload`` mode sends one CSV per batch (up to 16 batches at once) and settles its rows from the
server's own results; ``add`` mode hands each batch's rows to :class:`~uploader.sender.RowSender`
(one request per row from a pool of threads, verdicts committed in groups). Whatever a crash left
half-done (a batch in ``creating``/``uploading``, rows in ``sending``) is reconciled with the
server before anything is sent again, and a batch is activated only when the server holds exactly
what was sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from uploader.chunker import upload_csv
from uploader.client import (
    SyllableClient,
    batch_has_content,
    batch_request_count,
    requests_match,
)
from uploader.config import UploadOptions
from uploader.errors import ConfigError
from uploader.journal import BatchEntry, BatchState, Journal, RowEntry, RowState, RunInfo
from uploader.models import CommunicationRequest, ProgressCallback, Record
from uploader.sender import REJECTED_STATUSES, RowSender, row_request

__all__ = ["REJECTED_STATUSES", "BatchRunner"]

log = logging.getLogger("uploader")


class BatchRunner:
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
        self._sender = RowSender(
            api,
            journal,
            run,
            concurrency=options.concurrency,
            checkpoint=self.checkpoint,
            on_sent=self._count_sent,
            on_settled=self._tick,
        )

    # -- helpers

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
        # reconcile first: the earlier attempt (or the user) may already have made it
        if (batch.state == BatchState.CREATING or opts.batch_id) and self.api.existing_batch(
            batch.batch_id, opts.campaign_id
        ) is not None:
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
            [Record(r.row_number, row_request(r)) for r in rows],
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
            held = batch_request_count(found)
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
        by_ref = _by_reference(results)
        accepted: list[int] = []
        rejected: list[tuple[int, str]] = []
        missing: list[RowEntry] = []
        for row in rows:
            verdict = _verdict(by_ref.get(row.reference_id, []), row_request(row))
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
            self._sender.send(batch.batch_id, pending)
        left = self.journal.rows(
            self.run, batch_seq=batch.seq, states=[RowState.PENDING, RowState.SENDING]
        )
        if not left:
            self.journal.batch_uploaded(self.run, batch.seq)

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
            if batch_request_count(found) == stored:
                return ""
        if results is None:
            results = self.api.results(batch.batch_id)
        self.server_results[batch.batch_id] = results
        by_ref = _by_reference(results)
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
        counted = batch_request_count(found)
        if counted != ours_held:
            return f"the server counts {counted} request(s), this run sent {ours_held}"
        return ""


def _no_checkpoint(name: str) -> None:
    """Default checkpoint: nothing (tests pass one to stop a run at a named point)."""


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


def _by_reference(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The server's results grouped by reference id (one id may be held more than once)."""
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for item in results:
        by_ref.setdefault(str(item.get("reference_id", "")), []).append(item)
    return by_ref
