"""The SQLite journal: every run's plan and every row's and batch's state, crash-safe.

The journal is a state machine. Each transition is one method and one SQLite transaction, and
it is committed *before* the network call it announces (``sending`` before a POST, ``creating``
before creating a batch), so after a crash or ``kill -9`` the journal is never behind the
server by more than "maybe applied": rows left in ``sending`` and batches left in ``creating``
or ``uploading`` are reconciled with the server on resume, never blindly resent::

    rows     pending -> sending -> accepted | rejected | failed      (refused, blank: final)
             sending/failed -> pending          (reconciled: the server does not have it)
    batches  planned -> creating -> created -> uploading -> uploaded -> verified -> active

A run is identified by its fingerprint (file content hash + settings). One journal file can
hold many runs; an exclusive ``flock`` on ``<journal>.lock`` keeps two processes off one journal
(the second gets :class:`~uploader.errors.LockHeldError`). The schema is versioned with
``PRAGMA user_version``; every ``sqlite3`` error leaves this module as a ``JournalError``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from platformdirs import user_state_dir

from uploader.errors import JournalError, LockHeldError
from uploader.models import RowOutcome, RowStatus

__all__ = [
    "SCHEMA_VERSION",
    "BatchEntry",
    "BatchState",
    "Journal",
    "PlannedRow",
    "RowEntry",
    "RowState",
    "RunInfo",
    "default_journal_path",
    "load_outcomes",
]

SCHEMA_VERSION = 1

#: One encoder for every row (``json.dumps`` with options builds a new one per call).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RowState(StrEnum):
    """Where a row is in the send pipeline (journal-level; maps onto :class:`RowStatus`)."""

    PENDING = "pending"
    SENDING = "sending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
    REFUSED = "refused"
    BLANK = "blank"


class BatchState(StrEnum):
    """Batch lifecycle: created paused, filled, verified, and only then activated."""

    PLANNED = "planned"
    CREATING = "creating"
    CREATED = "created"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    VERIFIED = "verified"
    ACTIVE = "active"


_ROW_STATUS = {
    RowState.PENDING: RowStatus.PENDING,
    RowState.SENDING: RowStatus.PENDING,
    RowState.ACCEPTED: RowStatus.ACCEPTED,
    RowState.REJECTED: RowStatus.REJECTED,
    RowState.FAILED: RowStatus.FAILED,
    RowState.REFUSED: RowStatus.REFUSED,
    RowState.BLANK: RowStatus.BLANK,
}

_SCHEMA = """
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    fingerprint  TEXT NOT NULL UNIQUE,
    file_path    TEXT NOT NULL,
    file_hash    TEXT NOT NULL,
    settings     TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open',
    summary      TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX runs_file ON runs(file_hash);
CREATE TABLE batches (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    seq          INTEGER NOT NULL,
    batch_id     TEXT NOT NULL,
    state        TEXT NOT NULL,
    row_count    INTEGER NOT NULL,
    preexisting  INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE rows (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    row_number   INTEGER NOT NULL,
    state        TEXT NOT NULL,
    batch_seq    INTEGER,
    reference_id TEXT NOT NULL DEFAULT '',
    target       TEXT NOT NULL DEFAULT '',
    variables    TEXT NOT NULL DEFAULT '{}',
    error        TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, row_number)
) WITHOUT ROWID;
CREATE INDEX rows_batch_state ON rows(run_id, batch_seq, state);
"""


def _no_variables(_: str) -> dict[str, str]:
    return {}


def default_journal_path(file_hash: str, stem: str = "") -> Path:
    """One journal per input file under the user's state directory (so unrelated files
    never wait for each other's lock, and the same file always finds its own journal)."""
    name = f"{stem[:40]}-{file_hash[:16]}.sqlite3" if stem else f"{file_hash[:16]}.sqlite3"
    return Path(user_state_dir("syllable-bulk-uploader")) / "journals" / name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One planned run: its identity and whether it has finished."""

    id: int
    fingerprint: str
    file_path: str
    file_hash: str
    settings: dict[str, Any]
    state: str
    summary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """A batch as the journal knows it."""

    seq: int
    batch_id: str
    state: BatchState
    row_count: int
    preexisting: bool
    error: str


@dataclass(frozen=True, slots=True)
class RowEntry:
    """A row as the journal knows it (variables decoded)."""

    row_number: int
    state: RowState
    batch_seq: int | None
    reference_id: str
    target: str
    variables: dict[str, str]
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """What :meth:`Journal.create_run` stores per spreadsheet row."""

    row_number: int
    state: RowState
    batch_seq: int | None = None
    reference_id: str = ""
    target: str = ""
    variables: dict[str, str] | None = None
    error: str = ""


class Journal:
    """An open, locked journal file. Use as a context manager; thread-safe."""

    def __init__(self, path: Path, *, lock: bool = True, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._mutex = threading.RLock()
        self._lock_handle: Any = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create journal folder {self.path.parent}: {exc}") from exc
        if lock:
            self._acquire_lock()
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException as exc:
            if db is not None:
                db.close()
            self._release_lock()
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"journal {self.path} is unusable: {exc}") from exc
            raise

    # -- lifecycle

    def _acquire_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the journal's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockHeldError(
                f"journal {self.path} is in use by {holder}; wait for that run to finish "
                "(two runs on one journal could send rows twice)"
            ) from exc
        except OSError as exc:
            handle.close()
            raise JournalError(f"cannot lock journal {self.path}: {exc}") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def close(self) -> None:
        with self._mutex:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._release_lock()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} was written by a newer version (schema {version}); "
                "upgrade syllable-bulk-uploader"
            )
        # executescript commits on its own, so the whole migration is one script
        self._db.executescript(
            f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transition = one transaction (BEGIN IMMEDIATE ... COMMIT)."""
        with self._mutex:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    def _move_rows(
        self,
        db: sqlite3.Connection,
        run: RunInfo,
        rows: Iterable[tuple[int, str]],
        to: RowState,
        allowed: Sequence[RowState],
        *,
        count_attempt: bool = False,
    ) -> int:
        """Move ``(row number, error)`` pairs to ``to`` (one statement for them all)."""
        marks = ",".join("?" * len(allowed))
        sql = (
            f"UPDATE rows SET state=?, error=?, attempts=attempts+? "
            f"WHERE run_id=? AND row_number=? AND state IN ({marks})"
        )
        attempt = int(count_attempt)
        params = [(to, error, attempt, run.id, number, *allowed) for number, error in rows]
        if not params:
            return 0
        return db.executemany(sql, params).rowcount

    def _move_batch(
        self, run: RunInfo, seq: int, to: BatchState, allowed: Sequence[BatchState], **extra: Any
    ) -> None:
        with self._tx() as db:
            self._move_batch_in(db, run, seq, to, allowed, **extra)

    def _move_batch_in(
        self,
        db: sqlite3.Connection,
        run: RunInfo,
        seq: int,
        to: BatchState,
        allowed: Sequence[BatchState],
        **extra: Any,
    ) -> None:
        sets = ", ".join(f"{k}=?" for k in extra)
        marks = ",".join("?" * len(allowed))
        cur = db.execute(
            f"UPDATE batches SET state=?, updated_at=?{', ' + sets if sets else ''} "
            f"WHERE run_id=? AND seq=? AND state IN ({marks})",
            (to, _now(), *extra.values(), run.id, seq, *allowed),
        )
        if cur.rowcount != 1:
            (state,) = db.execute(
                "SELECT state FROM batches WHERE run_id=? AND seq=?", (run.id, seq)
            ).fetchone() or ("missing",)
            raise JournalError(f"batch #{seq}: cannot go from {state} to {to}")

    # -- runs

    def find_run(self, fingerprint: str) -> RunInfo | None:
        rows = self._query("SELECT * FROM runs WHERE fingerprint=?", (fingerprint,))
        return self._run(rows[0]) if rows else None

    def open_runs_for_file(self, file_hash: str) -> list[RunInfo]:
        """Unfinished runs of the same file (under any settings)."""
        rows = self._query(
            "SELECT * FROM runs WHERE file_hash=? AND state='open' ORDER BY id", (file_hash,)
        )
        return [self._run(r) for r in rows]

    def runs_for_file(self, file_hash: str) -> list[RunInfo]:
        """Every run of the same file, finished or not, oldest first (trials before full runs)."""
        rows = self._query("SELECT * FROM runs WHERE file_hash=? ORDER BY id", (file_hash,))
        return [self._run(r) for r in rows]

    def latest_run(self) -> RunInfo | None:
        rows = self._query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        return self._run(rows[0]) if rows else None

    @staticmethod
    def _run(row: tuple[Any, ...]) -> RunInfo:
        run_id, fingerprint, file_path, file_hash, settings, state, summary, *_ = row
        return RunInfo(
            id=run_id,
            fingerprint=fingerprint,
            file_path=file_path,
            file_hash=file_hash,
            settings=json.loads(settings),
            state=state,
            summary=json.loads(summary) if summary else None,
        )

    def create_run(
        self,
        *,
        fingerprint: str,
        file_path: str,
        file_hash: str,
        settings: dict[str, Any],
        batches: Sequence[tuple[int, str, int]],
        rows: Iterable[PlannedRow],
    ) -> RunInfo:
        """Store a whole plan at once: batches ``(seq, batch_id, row_count)`` and every row."""
        now = _now()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (fingerprint, file_path, file_hash, settings, created_at, "
                "updated_at) VALUES (?,?,?,?,?,?)",
                (fingerprint, file_path, file_hash, json.dumps(settings, sort_keys=True), now, now),
            )
            run_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO batches (run_id, seq, batch_id, state, row_count, updated_at) "
                "VALUES (?,?,?,?,?,?)",
                [(run_id, s, b, BatchState.PLANNED, n, now) for s, b, n in batches],
            )
            db.executemany(
                "INSERT INTO rows (run_id, row_number, state, batch_seq, reference_id, target, "
                "variables, error) VALUES (?,?,?,?,?,?,?,?)",
                (
                    (
                        run_id,
                        r.row_number,
                        r.state,
                        r.batch_seq,
                        r.reference_id,
                        r.target,
                        _encode(r.variables) if r.variables else "{}",
                        r.error,
                    )
                    for r in rows
                ),
            )
        run = self.find_run(fingerprint)
        assert run is not None
        return run

    def finish_run(self, run: RunInfo, summary: dict[str, Any]) -> None:
        """Record that the run completed (every row final) and the summary it printed."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET state='finished', summary=?, updated_at=? WHERE id=?",
                (json.dumps(summary, sort_keys=True), _now(), run.id),
            )

    # -- batch transitions

    def batch_creating(self, run: RunInfo, seq: int) -> None:
        self._move_batch(run, seq, BatchState.CREATING, [BatchState.PLANNED, BatchState.CREATING])

    def batch_created(self, run: RunInfo, seq: int, *, preexisting: bool = False) -> None:
        self._move_batch(
            run,
            seq,
            BatchState.CREATED,
            [BatchState.PLANNED, BatchState.CREATING],
            preexisting=int(preexisting),
        )

    def batch_uploading(self, run: RunInfo, seq: int) -> None:
        """Announce the upload: the batch and all its pending rows go to sending together."""
        with self._tx() as db:
            self._move_batch_in(
                db, run, seq, BatchState.UPLOADING, [BatchState.CREATED, BatchState.UPLOADING]
            )
            db.execute(
                "UPDATE rows SET state=?, attempts=attempts+1 "
                "WHERE run_id=? AND batch_seq=? AND state=?",
                (RowState.SENDING, run.id, seq, RowState.PENDING),
            )

    def batch_filling(self, run: RunInfo, seq: int) -> None:
        """Add mode: the batch is being filled row by row (rows move on their own)."""
        self._move_batch(run, seq, BatchState.UPLOADING, [BatchState.CREATED, BatchState.UPLOADING])

    def batch_uploaded(self, run: RunInfo, seq: int) -> None:
        self._move_batch(
            run, seq, BatchState.UPLOADED, [BatchState.UPLOADING, BatchState.UPLOADED], error=""
        )

    def batch_unverified(self, run: RunInfo, seq: int, reason: str) -> None:
        """Verification failed: the batch stays paused in ``uploaded`` and says why."""
        self._move_batch(run, seq, BatchState.UPLOADED, [BatchState.UPLOADED], error=reason)

    def batch_verified(self, run: RunInfo, seq: int) -> None:
        self._move_batch(
            run, seq, BatchState.VERIFIED, [BatchState.UPLOADED, BatchState.VERIFIED], error=""
        )

    def batch_activated(self, run: RunInfo, seq: int) -> None:
        self._move_batch(run, seq, BatchState.ACTIVE, [BatchState.VERIFIED, BatchState.ACTIVE])

    def batches(self, run: RunInfo) -> list[BatchEntry]:
        rows = self._query(
            "SELECT seq, batch_id, state, row_count, preexisting, error FROM batches "
            "WHERE run_id=? ORDER BY seq",
            (run.id,),
        )
        return [
            BatchEntry(seq, bid, BatchState(state), count, bool(pre), err)
            for seq, bid, state, count, pre, err in rows
        ]

    # -- row transitions

    def rows_sending(self, run: RunInfo, row_numbers: Iterable[int]) -> None:
        """Announce sends (committed before the requests leave)."""
        with self._tx() as db:
            self._move_rows(
                db,
                run,
                ((n, "") for n in row_numbers),
                RowState.SENDING,
                [RowState.PENDING, RowState.SENDING],
                count_attempt=True,
            )

    def row_accepted(self, run: RunInfo, row_number: int) -> None:
        self.rows_settled(run, accepted=[row_number])

    def row_rejected(self, run: RunInfo, row_number: int, error: str) -> None:
        self.rows_settled(run, rejected=[(row_number, error)])

    def row_failed(self, run: RunInfo, row_number: int, error: str) -> None:
        self.rows_settled(run, failed=[(row_number, error)])

    def rows_settled(
        self,
        run: RunInfo,
        *,
        accepted: Iterable[int] = (),
        rejected: Iterable[tuple[int, str]] = (),
        failed: Iterable[tuple[int, str]] = (),
    ) -> None:
        """Record the server's verdicts on sent rows (one transaction for the lot)."""
        from_states = [RowState.SENDING, RowState.FAILED, RowState.PENDING]
        with self._tx() as db:
            self._move_rows(db, run, ((n, "") for n in accepted), RowState.ACCEPTED, from_states)
            self._move_rows(db, run, rejected, RowState.REJECTED, from_states)
            self._move_rows(db, run, failed, RowState.FAILED, from_states)

    def rows_pending(self, run: RunInfo, row_numbers: Iterable[int]) -> None:
        """Reconciled: the server does not hold these rows, so they may be sent (again)."""
        with self._tx() as db:
            self._move_rows(
                db,
                run,
                ((n, "") for n in row_numbers),
                RowState.PENDING,
                [RowState.SENDING, RowState.FAILED],
            )

    def rows(
        self,
        run: RunInfo,
        *,
        batch_seq: int | None = None,
        states: Sequence[RowState] | None = None,
        variables: bool = True,
    ) -> list[RowEntry]:
        """Rows of a run in row order; ``variables=False`` skips decoding them (faster)."""
        sql = (
            "SELECT row_number, state, batch_seq, reference_id, target, "
            f"{'variables' if variables else chr(39) + '{}' + chr(39)}, error, "
            "attempts FROM rows WHERE run_id=?"
        )
        params: list[Any] = [run.id]
        if batch_seq is not None:
            sql += " AND batch_seq=?"
            params.append(batch_seq)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        sql += " ORDER BY row_number"
        decode: Callable[[str], dict[str, str]] = json.loads if variables else _no_variables
        return [
            RowEntry(n, RowState(s), b, ref, tgt, decode(v), err, att)
            for n, s, b, ref, tgt, v, err, att in self._query(sql, params)
        ]

    def counts(self, run: RunInfo) -> dict[str, int]:
        rows = self._query(
            "SELECT state, COUNT(*) FROM rows WHERE run_id=? GROUP BY state", (run.id,)
        )
        return {state: n for state, n in rows}

    def outcomes(self, run: RunInfo) -> dict[int, RowOutcome]:
        """Every row's verdict, keyed by spreadsheet row number."""
        batch_ids = {b.seq: b.batch_id for b in self.batches(run)}
        return {
            r.row_number: RowOutcome(
                row_number=r.row_number,
                status=_ROW_STATUS[r.state],
                error=r.error,
                reference_id=r.reference_id,
                batch_id=batch_ids.get(r.batch_seq, "") if r.batch_seq is not None else "",
                target_e164=r.target,
            )
            for r in self.rows(run, variables=False)
        }


def load_outcomes(
    path: Path, fingerprint: str | None = None
) -> tuple[list[str], dict[int, RowOutcome]]:
    """A previous run's batch ids and row outcomes, read without taking the lock.

    ``fingerprint`` picks a run; by default the most recent run in the journal.
    """
    if not Path(path).exists():
        raise JournalError(f"journal {path} does not exist")
    journal = Journal(path, lock=False)
    try:
        run = journal.find_run(fingerprint) if fingerprint else journal.latest_run()
        if run is None:
            raise JournalError(f"journal {path} holds no matching run")
        return [b.batch_id for b in journal.batches(run)], journal.outcomes(run)
    finally:
        journal.close()
