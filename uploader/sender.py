"""The row sender: ``add`` mode's one request per row, from a pool of threads, never lost or resent.

Rows are announced (``sending``) in the journal in groups just before their requests leave;
``concurrency`` threads share one pooled client (measured fastest here: ``bench/bench_add.py``);
verdicts come back on a queue and are committed in groups. A crash in between leaves rows in
``sending``, which the next run reconciles with the server before sending anything. A run whose
every request gives up stops (the API is down, not one row).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue

from uploader.client import SyllableClient
from uploader.errors import (
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    PermanentApiError,
    RetriesExhausted,
)
from uploader.journal import Journal, RowEntry, RunInfo
from uploader.models import CommunicationRequest

__all__ = ["REJECTED_STATUSES", "RowSender", "row_request"]

#: Server request statuses that mean "the server took the row but will never call it".
REJECTED_STATUSES = {
    "INVALID": "the server marked the number INVALID",
    "DUPLICATE": "the server marked the row DUPLICATE (reference_id repeated)",
}


def row_request(row: RowEntry) -> CommunicationRequest:
    """The request a journal row stands for (what was, or will be, sent)."""
    return CommunicationRequest(row.reference_id, row.target, row.variables)


class RowSender:
    """Sends rows of one run, one request each; the journal holds every row's state."""

    def __init__(
        self,
        api: SyllableClient,
        journal: Journal,
        run: RunInfo,
        *,
        concurrency: int,
        checkpoint: Callable[[str], None],
        on_sent: Callable[[int], None],
        on_settled: Callable[[int], None],
    ) -> None:
        self.api = api
        self.journal = journal
        self.run = run
        self.concurrency = max(1, concurrency)
        self.checkpoint = checkpoint
        self.on_sent = on_sent  # requests that left (whatever became of them)
        self.on_settled = on_settled  # rows now accepted or rejected

    def send(self, batch_id: str, rows: Sequence[RowEntry]) -> None:
        """Send rows from ``concurrency`` threads sharing one pooled client.

        Rows are announced (``sending``) in groups just before their requests leave; verdicts
        come back on a queue and are committed in groups (a crash in between leaves them in
        ``sending``, which a rerun reconciles with the server, so nothing is lost or resent).
        """
        concurrency = self.concurrency
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
                kind, message = self._send_one(batch_id, row)
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

    def _send_one(self, batch_id: str, row: RowEntry) -> tuple[str, str]:
        """One row's request; returns its verdict (``accepted``/``rejected``, message)."""
        request = row_request(row)
        try:
            answer = self.api.add_request(batch_id, request)
        except (AuthError, NotFoundError):
            raise
        except PermanentApiError as exc:  # the server's own words, recorded on the row
            if isinstance(exc, ConflictError) or exc.status_code not in (401, 403):
                return "rejected", str(exc.fields.get("server_message") or exc)
            raise
        finally:
            self.on_sent(1)
        status = str(answer.get("request_status", "")) if isinstance(answer, dict) else ""
        if status in REJECTED_STATUSES:
            return "rejected", REJECTED_STATUSES[status]
        return "accepted", ""


class _Settlements:
    """Verdicts waiting to be committed together (group commit, one transaction per flush)."""

    def __init__(self, sender: RowSender, flush_every: int) -> None:
        self.sender = sender
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
        sender = self.sender
        settled = len(self.accepted) + len(self.rejected)
        if self.accepted or self.rejected or self.failed:
            sender.journal.rows_settled(
                sender.run, accepted=self.accepted, rejected=self.rejected, failed=self.failed
            )
        self.accepted, self.rejected, self.failed = [], [], []
        self.last = time.monotonic()
        if settled:
            sender.on_settled(settled)


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
