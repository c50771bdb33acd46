"""The journal as a state machine on a real SQLite file: transitions, lock, versioning."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from uploader.errors import JournalError, LockHeldError
from uploader.journal import (
    SCHEMA_VERSION,
    BatchState,
    Journal,
    PlannedRow,
    RowState,
    RunInfo,
    load_outcomes,
)
from uploader.models import RowStatus


def plan(journal: Journal, fingerprint: str = "fp") -> RunInfo:
    rows = [
        PlannedRow(2, RowState.PENDING, 1, "r2", "+15125550102", {"a": "1"}),
        PlannedRow(3, RowState.PENDING, 1, "r3", "+15125550103", {}),
        PlannedRow(4, RowState.REFUSED, None, "r4", "", None, "invalid phone number"),
        PlannedRow(5, RowState.BLANK),
        PlannedRow(6, RowState.PENDING, 2, "r6", "+15125550106", {}),
    ]
    return journal.create_run(
        fingerprint=fingerprint,
        file_path="people.csv",
        file_hash="abc",
        settings={"campaign_id": 1},
        batches=[(1, "people-001", 2), (2, "people-002", 1)],
        rows=rows,
    )


def test_plan_is_stored_and_found_by_fingerprint(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = plan(journal)
        assert journal.find_run("fp") == run
        assert journal.find_run("other") is None
        assert journal.counts(run) == {"pending": 3, "refused": 1, "blank": 1}
        assert [b.state for b in journal.batches(run)] == [BatchState.PLANNED] * 2
        assert journal.rows(run, batch_seq=1)[0].variables == {"a": "1"}


def test_batch_lifecycle_and_illegal_transitions(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = plan(journal)
        with pytest.raises(JournalError, match="cannot go from planned to active"):
            journal.batch_activated(run, 1)
        journal.batch_creating(run, 1)
        journal.batch_creating(run, 1)  # resumed: announcing again is allowed
        journal.batch_created(run, 1)
        journal.batch_uploading(run, 1)
        assert {r.state for r in journal.rows(run, batch_seq=1)} == {RowState.SENDING}
        assert journal.rows(run, batch_seq=2)[0].state == RowState.PENDING
        journal.batch_uploaded(run, 1)
        journal.batch_unverified(run, 1, "server holds 1 request, we sent 2")
        assert journal.batches(run)[0].error.startswith("server holds 1")
        journal.batch_verified(run, 1)
        journal.batch_activated(run, 1)
        entry = journal.batches(run)[0]
        assert (entry.state, entry.error) == (BatchState.ACTIVE, "")


def test_row_transitions_and_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        run = plan(journal)
        journal.rows_sending(run, [2, 3, 6])
        journal.row_accepted(run, 2)
        journal.row_rejected(run, 3, "target: Invalid phone number")
        journal.row_failed(run, 6, "gave up after 8 attempts")
        journal.rows_pending(run, [6])  # reconciled: not on the server
        assert journal.rows(run, states=[RowState.PENDING])[0].row_number == 6
        journal.rows_sending(run, [6])
        journal.row_accepted(run, 6)
        assert journal.rows(run, states=[RowState.ACCEPTED])[-1].attempts == 2
        journal.finish_run(run, {"accepted": 2})
        assert journal.find_run("fp").summary == {"accepted": 2}  # type: ignore[union-attr]
    batch_ids, outcomes = load_outcomes(path)
    assert batch_ids == ["people-001", "people-002"]
    assert {n: o.status for n, o in outcomes.items()} == {
        2: RowStatus.ACCEPTED,
        3: RowStatus.REJECTED,
        4: RowStatus.REFUSED,
        5: RowStatus.BLANK,
        6: RowStatus.ACCEPTED,
    }
    assert outcomes[3].error == "target: Invalid phone number"
    assert outcomes[2].batch_id == "people-001" and outcomes[6].batch_id == "people-002"
    assert outcomes[4].batch_id == "" and outcomes[2].target_e164 == "+15125550102"


def test_a_second_opener_gets_lock_held(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path):
        with pytest.raises(LockHeldError, match="in use by pid"):
            Journal(path)
        script = (
            "import sys\nfrom uploader.journal import Journal\nfrom uploader.errors import "
            "LockHeldError\ntry:\n    Journal(sys.argv[1])\nexcept LockHeldError:\n    sys.exit(3)"
        )
        other = subprocess.run([sys.executable, "-c", script, str(path)], check=False)
        assert other.returncode == 3
    with Journal(path):  # released on close
        pass


def test_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    script = (
        "import os, sys\nfrom uploader.journal import Journal\nJournal(sys.argv[1])\n"
        "os.kill(os.getpid(), 9)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    assert done.returncode == -9
    with Journal(path):
        pass


def test_schema_is_versioned_and_newer_journals_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalError, match="newer version"):
        Journal(path)


def test_a_file_that_is_not_sqlite_is_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(JournalError, match="unusable") as info:
        Journal(path)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    with Journal(tmp_path / "ok.sqlite3"):  # and the lock of the failed one was released
        pass
    with pytest.raises(JournalError, match="does not exist"):
        load_outcomes(tmp_path / "missing.sqlite3")


def test_open_runs_for_a_file(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        first = plan(journal, "fp1")
        assert [r.id for r in journal.open_runs_for_file("abc")] == [first.id]
        journal.finish_run(first, {})
        assert journal.open_runs_for_file("abc") == []
        assert journal.latest_run() == journal.find_run("fp1")
