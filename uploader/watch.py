"""The drop folder: files saved into ``inbox/`` are sent once and filed with their report.

Layout under the folder (created on first use)::

    settings.toml   campaign_id, server_url, mapping... (same keys as a config profile)
    inbox/          people (or other systems) save spreadsheets here
    processing/     the file being sent (a crash leaves it here; the next pass resumes it)
    done/           file + ``<name>.report.xlsx``: every non-blank row accepted
    failed/         file + report (some rows refused/rejected/failed) or ``<name>.error.txt``
                    (the file could not be read at all)
    .state/         ``watch.sqlite`` (content-hash ledger), engine journals, the lock

Each file walks a small state machine recorded in ``.state/watch.sqlite`` *before* the file
moves, so a pass killed at any point is finished by the next one::

    inbox --claim--> processing --decide(done|failed)--> moved into done/ or failed/

A file is picked up only once its size and modification time stop changing for ``settle``
seconds (a copy in progress is left alone). Content already sent (same SHA-256) is never sent
again: a repeated drop is filed next to the original's outcome with a ``.duplicate.txt`` note.
Errors that are not the file's fault (API unreachable, bad key, bad settings) leave the file in
``processing/`` for the next pass and end the pass with a fatal status.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from uploader.chunker import content_hash
from uploader.errors import (
    EXIT_CODES,
    InputError,
    JournalError,
    LockHeldError,
    UploaderError,
)
from uploader.models import ProgressCallback
from uploader.settings import ResolvedSettings

__all__ = [
    "DropFolder",
    "FileOutcome",
    "ProcessResult",
    "Processor",
    "WatchReport",
    "process_with_engine",
    "watch_folder",
]

log = logging.getLogger("uploader")

_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What sending one file gave: ``done`` (every row accepted) or ``failed``."""

    status: str  # "done" | "failed"
    report: Path | None  # written inside processing/, moved along with the file
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Processor(Protocol):
    """Sends one file (already in ``processing/``); raises only for "cannot go on" errors."""

    def __call__(
        self,
        path: Path,
        digest: str,
        settings: ResolvedSettings,
        folder: DropFolder,
        progress: ProgressCallback,
    ) -> ProcessResult: ...


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """Where one dropped file ended up, and why."""

    name: str
    status: str  # "done" | "failed" | "duplicate" | "retry"
    path: Path  # the file's final place
    report: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    duplicate_of: str = ""
    exit_code: int = 0  # for "retry": the code of the error that stopped the pass

    def describe(self) -> str:
        """One line for the terminal or the log."""
        if self.status == "duplicate":
            return (
                f"{self.name}: same content as {self.duplicate_of}, already sent; "
                f"not sent again -> {self.path}"
            )
        if self.status == "retry":
            return f"{self.name}: not finished ({self.error}); left in processing/ for next pass"
        counts = self.summary.get("counts") or {}
        shown = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        detail = f" ({shown})" if shown else ""
        if self.error:
            detail += f": {self.error}"
        where = self.report or self.path
        return f"{self.name}: {self.status}{detail} -> {where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "path": str(self.path),
            "report": str(self.report) if self.report else None,
            "counts": dict(self.summary.get("counts") or {}),
            "error": self.error,
            "duplicate_of": self.duplicate_of,
        }


@dataclass(slots=True)
class WatchReport:
    """Every file a watch run handled; its exit code follows the documented table."""

    folder: Path
    outcomes: list[FileOutcome] = field(default_factory=list)
    passes: int = 0
    fatal: str = ""

    @property
    def exit_code(self) -> int:
        """The stopping error's code (2 fatal, 3 locked, 5 not confirmed...) when a pass could
        not finish a file, 1 when a file went to failed/, else 0."""
        stopped = [o.exit_code or EXIT_CODES["fatal"] for o in self.outcomes if o.status == "retry"]
        if stopped:
            return stopped[-1]
        if self.fatal:
            return EXIT_CODES["fatal"]
        if any(o.status == "failed" for o in self.outcomes):
            return EXIT_CODES["rows"]
        return EXIT_CODES["ok"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for outcome in self.outcomes:
            out[outcome.status] = out.get(outcome.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "passes": self.passes,
            "files": [o.to_dict() for o in self.outcomes],
            "counts": self.counts(),
            "fatal": self.fatal,
            "exit_code": self.exit_code,
        }

    def render(self) -> str:
        if not self.outcomes and not self.fatal:
            return f"{self.folder / 'inbox'}: nothing to do"
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items())
        lines = [f"{len(self.outcomes)} file(s): {counts}" if self.outcomes else ""]
        if self.fatal:
            lines.append(f"stopped: {self.fatal}")
        return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- the folder


class DropFolder:
    """The folder's layout, its lock and its content-hash ledger."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.inbox = self.root / "inbox"
        self.processing = self.root / "processing"
        self.done = self.root / "done"
        self.failed = self.root / "failed"
        self.state = self.root / ".state"
        self.settings_file = self.root / "settings.toml"

    def ensure(self) -> None:
        """Create the sub-folders (idempotent)."""
        for folder in (self.inbox, self.processing, self.done, self.failed, self.state):
            folder.mkdir(parents=True, exist_ok=True)

    def journal_for(self, digest: str) -> Path:
        """The engine journal of one content: a rerun of the same file resumes it."""
        return self.state / "journals" / f"{digest[:24]}.sqlite"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock (one watcher per folder); :class:`LockHeldError` if taken."""
        self.ensure()
        path = self.state / "watch.lock"
        handle = path.open("a+", encoding="utf-8")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "?"
                raise LockHeldError(
                    f"another watch is already running on {self.root} (pid {holder}); "
                    "this run exits without touching any file"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the flock


class _Ledger:
    """``.state/watch.sqlite``: one row per content hash; the file's state machine."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS files ("
                " digest TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,"
                " destination TEXT, report TEXT, error TEXT, counts TEXT,"
                " claimed_at TEXT, finished_at TEXT)"
            )
        except sqlite3.Error as exc:
            raise JournalError(f"drop-folder ledger {path} is unusable: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def get(self, digest: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT name, state, destination, report, error FROM files WHERE digest = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        keys = ("name", "state", "destination", "report", "error")
        return dict(zip(keys, row, strict=True))

    def claim(self, digest: str, name: str) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO files (digest, name, state, claimed_at) VALUES (?, ?, 'processing', ?)"
                " ON CONFLICT(digest) DO UPDATE SET name = excluded.name, state = 'processing'",
                (digest, name, _now()),
            )

    def decide(
        self,
        digest: str,
        state: str,
        destination: Path,
        report: Path | None,
        error: str,
        counts: Mapping[str, Any],
    ) -> None:
        import json

        with self._db:
            self._db.execute(
                "UPDATE files SET state = ?, destination = ?, report = ?, error = ?, counts = ?,"
                " finished_at = ? WHERE digest = ?",
                (
                    state,
                    str(destination),
                    str(report) if report else None,
                    error,
                    json.dumps(dict(counts)),
                    _now(),
                    digest,
                ),
            )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... when taken (never overwrite a record)."""
    target = folder / name
    if not target.exists():
        return target
    stem, suffix = os.path.splitext(name)
    if stem.endswith(".report"):  # keep "x.report.xlsx" readable
        stem = stem[: -len(".report")]
        suffix = ".report" + suffix
    n = 2
    while (folder / f"{stem}-{n}{suffix}").exists():
        n += 1
    return folder / f"{stem}-{n}{suffix}"


def _candidates(inbox: Path) -> list[Path]:
    """Files in ``inbox`` that could be spreadsheets (hidden, lock and partial files skipped)."""
    found = []
    for path in sorted(inbox.iterdir()):
        name = path.name
        if not path.is_file() or name.startswith((".", "~$")):
            continue
        if name.lower().endswith(_IGNORED_SUFFIXES):
            continue
        found.append(path)
    return found


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _settled(
    inbox: Path, settle: float, stop: threading.Event, sleep: Callable[[float], None]
) -> list[Path]:
    """The inbox files whose size and mtime did not change over ``settle`` seconds."""
    before = {p: _signature(p) for p in _candidates(inbox)}
    if not before:
        return []
    if settle > 0:
        if sleep is time.sleep:
            stop.wait(settle)
        else:
            sleep(settle)
    ready = []
    for path, signature in before.items():
        now = _signature(path)
        if now is not None and now == signature:
            ready.append(path)
        else:
            log.info("%s: still being written; next pass", path.name)
    return ready


# --------------------------------------------------------------------------- processing


def process_with_engine(
    path: Path,
    digest: str,
    settings: ResolvedSettings,
    folder: DropFolder,
    progress: ProgressCallback,
) -> ProcessResult:
    """Validate and send ``path`` with the engine, then write its XLSX report beside it.

    The engine journal is keyed by the content hash, so a pass that dies mid-send resumes it
    exactly once. An unreadable file raises :class:`InputError` (the caller files it).
    """
    from dataclasses import replace

    from uploader.engine import upload
    from uploader.reporter import write_report

    options = replace(settings.upload, journal_path=folder.journal_for(digest))
    result = upload(path, settings.read, options, settings.client, progress=progress)
    report = path.with_name(path.name + ".report.xlsx")
    write_report(
        report,
        result.validation,
        result.outcomes,
        settings={
            "source": "drop folder",
            "folder": str(folder.root),
            "server_url": settings.client.server_url,
            "campaign_id": options.campaign_id,
            "mode": options.mode,
        },
        progress=progress,
    )
    summary = result.summary()
    status = "done" if result.exit_code == EXIT_CODES["ok"] else "failed"
    error = ""
    if status == "failed":
        counts = summary.get("counts", {})
        bad = {k: v for k, v in counts.items() if k in {"refused", "rejected", "failed"} and v}
        error = ", ".join(f"{v} {k}" for k, v in bad.items()) + " (see the report)"
        if not bad:
            error = "not every row was accepted (see the report)"
    return ProcessResult(status, report, summary, error)


def _file_away(
    ledger: _Ledger,
    folder: DropFolder,
    path: Path,
    digest: str,
    result: ProcessResult,
    original_name: str,
) -> FileOutcome:
    """Record the decision, then move the file and its report (resumable in that order)."""
    target_dir = folder.done if result.status == "done" else folder.failed
    destination = _free_name(target_dir, original_name)
    report_dest = None
    if result.report is not None:
        report_dest = _free_name(target_dir, destination.name + ".report.xlsx")
    ledger.decide(
        digest,
        result.status,
        destination,
        report_dest,
        result.error,
        result.summary.get("counts", {}),
    )
    if result.report is not None and report_dest is not None and result.report.exists():
        os.replace(result.report, report_dest)
    if result.error and result.report is None:
        note = _free_name(target_dir, destination.name + ".error.txt")
        note.write_text(result.error + "\n", encoding="utf-8")
    os.replace(path, destination)
    return FileOutcome(
        original_name, result.status, destination, report_dest, result.summary, result.error
    )


def _finish_decided(ledger: _Ledger, path: Path, entry: Mapping[str, Any]) -> FileOutcome:
    """A pass died after deciding but before moving: complete the move it recorded."""
    destination = Path(entry["destination"])
    report = Path(entry["report"]) if entry.get("report") else None
    pending_report = path.with_name(path.name + ".report.xlsx")
    if report is not None and pending_report.exists():
        os.replace(pending_report, report)
    os.replace(path, destination)
    return FileOutcome(
        entry["name"], entry["state"], destination, report, {}, entry.get("error") or ""
    )


def _duplicate(path: Path, entry: Mapping[str, Any], folder: DropFolder) -> FileOutcome:
    """Same content as a file already filed: put it beside the original's outcome, with a note."""
    original = Path(entry["destination"])
    target_dir = original.parent if original.parent.exists() else folder.done
    destination = _free_name(target_dir, path.name)
    note = _free_name(target_dir, destination.name + ".duplicate.txt")
    note.write_text(
        f"{path.name} has the same content as {entry['name']}, which was already processed "
        f"({entry['state']}): {original}\n"
        f"Report: {entry.get('report') or '-'}\n"
        "Nothing was sent for this copy. To send changed rows, edit the file and drop it again.\n",
        encoding="utf-8",
    )
    os.replace(path, destination)
    return FileOutcome(
        path.name, "duplicate", destination, None, {}, "", duplicate_of=str(entry["name"])
    )


def _run_one(
    ledger: _Ledger,
    folder: DropFolder,
    path: Path,
    digest: str,
    settings: ResolvedSettings,
    processor: Processor,
    progress: ProgressCallback,
    name: str,
) -> FileOutcome:
    """Send one claimed file (in processing/) and file it; fatal errors leave it in place."""
    try:
        result = processor(path, digest, settings, folder, progress)
    except InputError as exc:
        log.info("%s: cannot be read: %s", name, exc)
        result = ProcessResult("failed", None, {}, str(exc))
    except UploaderError as exc:
        log.error("%s: %s; left in processing/ for the next pass", name, exc)
        return FileOutcome(name, "retry", path, None, {}, str(exc), exit_code=exc.exit_code)
    return _file_away(ledger, folder, path, digest, result, name)


def watch_folder(
    folder: DropFolder,
    settings: ResolvedSettings,
    *,
    once: bool = True,
    interval: float = 10.0,
    settle: float = 2.0,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
    processor: Processor = process_with_engine,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchReport:
    """Process the drop folder: once (``once=True``, for cron) or until ``stop`` is set.

    Files left in ``processing/`` by an earlier, interrupted pass are finished first. A fatal
    error (API unreachable, bad key or settings) ends the run with the file kept for next time.
    Raises :class:`LockHeldError` when another watcher holds the folder.
    """
    stop = stop or threading.Event()
    report = WatchReport(folder.root)

    def noop(stage: str, done: int, total: int | None) -> None:
        """No progress display."""

    progress = progress or noop

    def record(outcome: FileOutcome) -> None:
        report.outcomes.append(outcome)
        if on_file is not None:
            on_file(outcome)
        log.info("%s", outcome.describe())

    with folder.locked():
        ledger = _Ledger(folder.state / "watch.sqlite")
        try:
            while True:
                report.passes += 1
                fatal = _one_pass(
                    ledger, folder, settings, processor, progress, record, stop, settle, sleep
                )
                if fatal:
                    report.fatal = fatal
                    break
                if once or stop.is_set():
                    break
                if sleep is time.sleep:
                    stop.wait(interval)
                else:
                    sleep(interval)
                if stop.is_set():
                    break
        finally:
            ledger.close()
    return report


def _one_pass(
    ledger: _Ledger,
    folder: DropFolder,
    settings: ResolvedSettings,
    processor: Processor,
    progress: ProgressCallback,
    record: Callable[[FileOutcome], None],
    stop: threading.Event,
    settle: float,
    sleep: Callable[[float], None],
) -> str:
    """Resume processing/, then take what settled in inbox/. Returns a fatal reason or ""."""
    for path in sorted(p for p in folder.processing.iterdir() if p.is_file()):
        if path.name.endswith(".report.xlsx") or stop.is_set():
            continue
        digest = content_hash(path)
        entry = ledger.get(digest)
        if entry is not None and entry["state"] in {"done", "failed"}:
            record(_finish_decided(ledger, path, entry))
            continue
        name = entry["name"] if entry else path.name
        ledger.claim(digest, name)
        outcome = _run_one(ledger, folder, path, digest, settings, processor, progress, name)
        record(outcome)
        if outcome.status == "retry":
            return outcome.error
    for path in _settled(folder.inbox, settle, stop, sleep):
        if stop.is_set():
            break
        try:
            digest = content_hash(path)
            entry = ledger.get(digest)
            if entry is not None and entry["state"] in {"done", "failed"}:
                record(_duplicate(path, entry, folder))
                continue
            ledger.claim(digest, path.name)
            claimed = _free_name(folder.processing, path.name)
            os.replace(path, claimed)
        except FileNotFoundError:
            log.info("%s: removed from inbox/ before it was picked up", path.name)
            continue
        outcome = _run_one(
            ledger, folder, claimed, digest, settings, processor, progress, path.name
        )
        record(outcome)
        if outcome.status == "retry":
            return outcome.error
    return ""
