"""The emulator's state: batches and their requests, in memory, optionally written to SQLite.

Every change that a response acknowledges is committed before the response is sent, so an emulator
killed with SIGKILL and restarted on the same ``--db`` still holds every acknowledged batch and
request. Reads are served from memory; SQLite is only written to (and read once at start).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Batch", "Request", "Store", "iso", "parse_datetime", "utcnow"]

_SCHEMA_VERSION = 1

_REQUEST_FIELDS = (
    "reference_id",
    "target",
    "request_variables",
    "channel_manager_sid",
    "created_at",
    "sent_at",
    "attempt_count",
    "session_id",
    "conversation_id",
    "request_status",
    "channel_manager_status",
    "insights_status",
    "insights",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """``2026-03-14T00:00:00.123456Z``: the wire form the real API uses."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(slots=True, eq=False)
class Request:
    """One communication request inside a batch (also the shape of one results row)."""

    pos: int
    reference_id: str
    target: str
    request_variables: dict[str, str]
    created_at: str
    request_status: str = "PENDING"
    channel_manager_status: str | None = None
    channel_manager_sid: str | None = None
    sent_at: str | None = None
    attempt_count: int = 0
    session_id: int | None = None
    conversation_id: int | None = None
    insights_status: str | None = None
    insights: dict[str, Any] | None = None
    removed: bool = False
    #: Simulated second at which the running call ends / the insights are ready.
    due: float | None = None
    connect_at: float | None = None
    insights_due: float | None = None
    outcome: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _REQUEST_FIELDS}

    def to_row(self) -> dict[str, Any]:
        out = self.to_api()
        out.update(removed=self.removed, due=self.due, insights_due=self.insights_due)
        out["connect_at"] = self.connect_at
        out["outcome"] = self.outcome
        return out

    @classmethod
    def from_row(cls, pos: int, data: dict[str, Any]) -> Request:
        return cls(pos=pos, **data)


@dataclass(slots=True, eq=False)
class Batch:
    """A communication batch plus the bookkeeping the simulation and the counters need."""

    batch_id: str
    campaign_id: int
    created_at: str
    last_updated_by: str
    seq: int
    expires_on: datetime | None = None
    paused: bool | None = None
    call_rate: int | None = None
    auto_call_rate: bool = False
    auto_call_rate_baseline: float | None = None
    upload_filename: str | None = None
    dispatch_id: str | None = None
    last_updated_at: str | None = None
    deleted_at: str | None = None
    deleted_reason: str | None = None
    error_message: str | None = None
    #: "none" (no file), "queued" (accepted, not processed yet), "done", "failed".
    upload_state: str = "none"
    # simulation clock (simulated seconds since the batch started calling) and pacing carry
    sim_now: float = 0.0
    carry: float = 0.0
    next_pending: int = 0
    requests: list[Request] = field(default_factory=list)
    index: dict[str, Request] = field(default_factory=dict)
    counts: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    has_duplicates: bool = False
    #: Requests the simulation still has to move (a call running, insights pending).
    live: list[Request] = field(default_factory=list)
    last_advance: float | None = None

    _PERSISTED = (
        "campaign_id",
        "created_at",
        "last_updated_by",
        "seq",
        "paused",
        "call_rate",
        "auto_call_rate",
        "auto_call_rate_baseline",
        "upload_filename",
        "dispatch_id",
        "last_updated_at",
        "deleted_at",
        "deleted_reason",
        "error_message",
        "upload_state",
        "sim_now",
        "carry",
        "next_pending",
    )

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_on is not None and self.expires_on <= now

    def status(self, now: datetime) -> str:
        """The BatchStatus, derived from the facts rather than stored (it cannot go stale)."""
        if self.deleted:
            return "CANCELED"
        if self.upload_state == "failed":
            return "FAILED"
        if self.upload_state == "queued":
            return "PENDING"
        if self.expired(now):
            return "EXPIRED"
        if self.paused:
            return "PAUSED"
        if self.upload_state == "done" or self.index:
            return "ACTIVE"
        return "PENDING"

    def to_api(self, now: datetime) -> dict[str, Any]:
        """The CommunicationBatch shape (reference spec fields plus the newest SDK's)."""
        return {
            "batch_id": self.batch_id,
            "campaign_id": self.campaign_id,
            "expires_on": iso(self.expires_on),
            "paused": self.paused,
            "call_rate": self.call_rate,
            "auto_call_rate": self.auto_call_rate,
            "auto_call_rate_baseline": self.auto_call_rate_baseline,
            "status": self.status(now),
            "upload_filename": self.upload_filename,
            "dispatch_id": self.dispatch_id,
            "created_at": self.created_at,
            "deleted_at": self.deleted_at,
            "deleted_reason": self.deleted_reason,
            "last_updated_at": self.last_updated_at,
            "last_updated_by": self.last_updated_by,
            "error_message": self.error_message,
        }

    def to_details(self, now: datetime) -> dict[str, Any]:
        """BatchDetails: the batch plus ``status_counts`` and ``detailed_status_counts``."""
        out = self.to_api(now)
        totals: Counter[str] = Counter()
        detailed: dict[str, dict[str, Any]] = {}
        for (status, cm_status), n in self.counts.items():
            if n <= 0:
                continue
            totals[status] += n
            entry = detailed.setdefault(status, {"total_count": 0, "counts": None})
            entry["total_count"] += n
            if cm_status is not None:
                if entry["counts"] is None:
                    entry["counts"] = {}
                entry["counts"][cm_status] = entry["counts"].get(cm_status, 0) + n
        out["status_counts"] = dict(totals)
        out["detailed_status_counts"] = detailed
        return out

    def to_row(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self._PERSISTED}
        out["expires_on"] = iso(self.expires_on)
        return out

    @classmethod
    def from_row(cls, batch_id: str, data: dict[str, Any]) -> Batch:
        data = dict(data)
        expires = parse_datetime(data.pop("expires_on", None))
        return cls(batch_id=batch_id, expires_on=expires, **data)

    # -- request bookkeeping -------------------------------------------------------------------
    def add_request(self, req: Request) -> None:
        self.requests.append(req)
        if req.removed:  # reloaded from disk after a remove-requests
            return
        if req.request_status in ("INITIATED", "CONNECTED") or req.insights_status == "PENDING":
            self.live.append(req)
        if req.request_status != "DUPLICATE":
            self.index.setdefault(req.reference_id, req)
        else:
            self.has_duplicates = True
        self.counts[(req.request_status, req.channel_manager_status)] += 1

    def set_status(self, req: Request, status: str, cm_status: str | None) -> None:
        """Move one request to a new status, keeping the counters exact."""
        if not req.removed:
            self.counts[(req.request_status, req.channel_manager_status)] -= 1
            self.counts[(status, cm_status)] += 1
        req.request_status = status
        req.channel_manager_status = cm_status

    def remove(self, reference_id: str) -> list[Request]:
        """Remove every row with this reference id (duplicates included); returns them."""
        if self.has_duplicates:
            rows = [r for r in self.requests if r.reference_id == reference_id and not r.removed]
        else:
            one = self.index.get(reference_id)
            rows = [one] if one is not None and not one.removed else []
        for req in rows:
            self.counts[(req.request_status, req.channel_manager_status)] -= 1
            req.removed = True
        self.index.pop(reference_id, None)
        return rows


class Store:
    """All batches, keyed by id; ``db_path`` makes it durable (write-through, commit per change)."""

    def __init__(self, db_path: Path | None = None) -> None:
        self.batches: dict[str, Batch] = {}
        self.pending_uploads: dict[str, bytes] = {}
        self.next_seq = 1
        self.next_session = 1
        self._db: sqlite3.Connection | None = None
        self._staged: list[tuple[str, int, str]] = []
        self._flush: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        if db_path is not None:
            self._open(db_path)

    # -- persistence ---------------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # durable against process death (kill -9)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            raise RuntimeError(f"{path}: emulator database schema {version} is not supported")
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS requests (
                batch_id TEXT NOT NULL, pos INTEGER NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (batch_id, pos));
            CREATE TABLE IF NOT EXISTS uploads (batch_id TEXT PRIMARY KEY, content BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """
        )
        db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._db = db
        self._load()

    def _load(self) -> None:
        assert self._db is not None
        for batch_id, data in self._db.execute("SELECT batch_id, data FROM batches"):
            self.batches[batch_id] = Batch.from_row(batch_id, json.loads(data))
        for batch_id, pos, data in self._db.execute(
            "SELECT batch_id, pos, data FROM requests ORDER BY batch_id, pos"
        ):
            batch = self.batches.get(batch_id)
            if batch is None:
                continue
            batch.add_request(Request.from_row(pos, json.loads(data)))
        for batch_id, content in self._db.execute("SELECT batch_id, content FROM uploads"):
            self.pending_uploads[batch_id] = bytes(content)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        self.next_seq = max([meta.get("next_seq", 1)] + [b.seq + 1 for b in self.batches.values()])
        self.next_session = meta.get("next_session", 1)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def durable(self) -> bool:
        return self._db is not None

    def _write(self, sql_and_params: list[tuple[str, Any]]) -> None:
        """Run statements in one transaction (committed before the caller responds)."""
        if self._db is None:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for sql, params in sql_and_params:
                    if isinstance(params, list):
                        db.executemany(sql, params)
                    else:
                        db.execute(sql, params)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _batch_stmt(batch: Batch) -> tuple[str, Any]:
        return (
            "INSERT OR REPLACE INTO batches (batch_id, data) VALUES (?, ?)",
            (batch.batch_id, json.dumps(batch.to_row())),
        )

    @staticmethod
    def _requests_stmt(batch: Batch, reqs: list[Request]) -> tuple[str, Any]:
        return (
            "INSERT OR REPLACE INTO requests (batch_id, pos, data) VALUES (?, ?, ?)",
            [(batch.batch_id, r.pos, json.dumps(r.to_row())) for r in reqs],
        )

    def _meta_stmt(self) -> tuple[str, Any]:
        return (
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("next_seq", self.next_seq), ("next_session", self.next_session)],
        )

    # -- changes (each one durable before it returns) ------------------------------------------
    def save_batch(self, batch: Batch, reqs: list[Request] | None = None) -> None:
        statements = [self._batch_stmt(batch), self._meta_stmt()]
        if reqs:
            statements.append(self._requests_stmt(batch, reqs))
        self._write(statements)

    def new_batch(self, batch: Batch) -> None:
        self.batches[batch.batch_id] = batch
        self.next_seq = max(self.next_seq, batch.seq + 1)
        self.save_batch(batch)

    def save_requests(self, batch: Batch, reqs: list[Request]) -> None:
        if reqs:
            self._write([self._requests_stmt(batch, reqs), self._meta_stmt()])

    async def save_requests_grouped(self, batch: Batch, reqs: list[Request]) -> None:
        """Like :meth:`save_requests`, but concurrent callers share one transaction.

        Each caller still returns only after its rows are committed (acknowledged means durable);
        what is saved is the per-transaction overhead when many adds arrive at once.
        """
        if self._db is None or not reqs:
            return
        self._staged.extend((batch.batch_id, r.pos, json.dumps(r.to_row())) for r in reqs)
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.create_future()
            loop.call_soon(self._flush_staged)
        await asyncio.shield(self._flush)

    def _flush_staged(self) -> None:
        future, rows = self._flush, self._staged
        self._flush, self._staged = None, []
        assert future is not None
        try:
            self._write(
                [
                    (
                        "INSERT OR REPLACE INTO requests (batch_id, pos, data) VALUES (?, ?, ?)",
                        rows,
                    )
                ]
            )
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    def queue_upload(self, batch: Batch, content: bytes) -> None:
        self.pending_uploads[batch.batch_id] = content
        self._write(
            [
                self._batch_stmt(batch),
                (
                    "INSERT OR REPLACE INTO uploads (batch_id, content) VALUES (?, ?)",
                    (batch.batch_id, content),
                ),
            ]
        )

    def finish_upload(self, batch: Batch, reqs: list[Request]) -> None:
        self.pending_uploads.pop(batch.batch_id, None)
        statements = [self._batch_stmt(batch), self._meta_stmt()]
        if reqs:
            statements.append(self._requests_stmt(batch, reqs))
        statements.append(("DELETE FROM uploads WHERE batch_id = ?", (batch.batch_id,)))
        self._write(statements)

    def clear(self) -> None:
        """Forget everything (the admin reset), on disk too."""
        self.batches.clear()
        self.pending_uploads.clear()
        self._staged.clear()  # rows of a pending group commit belong to the forgotten state
        self.next_seq = 1
        self.next_session = 1
        self._write(
            [
                ("DELETE FROM batches", ()),
                ("DELETE FROM requests", ()),
                ("DELETE FROM uploads", ()),
                ("DELETE FROM meta", ()),
            ]
        )
