"""The drop folder's state machine with a scripted processor: crashes, retries, locks, settling.

The processor is the one seam replaced here (the real one is exercised against the emulator in
test_cli_watch.py); everything else — folders, the SQLite ledger, the lock — is real.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from uploader.errors import ApiError, ConfirmationRequired, InputError, LockHeldError
from uploader.settings import ResolvedSettings, resolve
from uploader.watch import DropFolder, ProcessResult, watch_folder


@pytest.fixture
def settings() -> ResolvedSettings:
    return resolve(config_path=None, environ={})


class Script:
    """A processor whose answer per file name is scripted; records every call."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[str] = []

    def __call__(self, path: Path, digest: str, settings, folder, progress) -> ProcessResult:
        self.calls.append(path.name)
        answer = self.answers.get(path.name, "done")
        if isinstance(answer, BaseException):
            raise answer
        report = path.with_name(path.name + ".report.xlsx")
        report.write_text("report", encoding="utf-8")
        counts = {"accepted": 2} if answer == "done" else {"accepted": 1, "refused": 1}
        error = "" if answer == "done" else "1 refused (see the report)"
        return ProcessResult(answer, report, {"counts": counts}, error)


def drop(folder: DropFolder, name: str, content: str) -> Path:
    folder.ensure()
    path = folder.inbox / name
    path.write_text(content, encoding="utf-8")
    return path


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_files_are_filed_with_reports_and_duplicates_are_not_resent(
    tmp_path: Path, settings: ResolvedSettings
) -> None:
    folder = DropFolder(tmp_path / "drop")
    drop(folder, "a.csv", "one")
    drop(folder, "b.csv", "two")
    drop(folder, "c.csv", "one")  # same content as a.csv
    drop(folder, ".hidden.csv", "x")
    drop(folder, "d.csv.part", "x")
    script = Script({"b.csv": "failed"})
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert script.calls == ["a.csv", "b.csv"]
    assert names(folder.done) == sorted(
        ["a.csv", "a.csv.report.xlsx", "c.csv", "c.csv.duplicate.txt"]
    )
    assert names(folder.failed) == ["b.csv", "b.csv.report.xlsx"]
    assert names(folder.inbox) == [".hidden.csv", "d.csv.part"]
    assert names(folder.processing) == []
    assert [o.status for o in report.outcomes] == ["done", "failed", "duplicate"]
    assert report.exit_code == 1
    assert "a.csv" in (folder.done / "c.csv.duplicate.txt").read_text()

    drop(folder, "a-again.csv", "one")  # a later pass: still recognised
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert script.calls == ["a.csv", "b.csv"]
    assert report.outcomes[0].status == "duplicate"
    assert report.exit_code == 0
    assert (folder.done / "a-again.csv").exists()


def test_unreadable_file_goes_to_failed_with_its_reason(
    tmp_path: Path, settings: ResolvedSettings
) -> None:
    folder = DropFolder(tmp_path)
    drop(folder, "junk.xlsx", "not a workbook")
    script = Script({"junk.xlsx": InputError("not a spreadsheet", path="junk.xlsx")})
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert names(folder.failed) == ["junk.xlsx", "junk.xlsx.error.txt"]
    assert "not a spreadsheet" in (folder.failed / "junk.xlsx.error.txt").read_text()
    assert report.exit_code == 1


def test_fatal_error_keeps_the_file_for_the_next_pass(
    tmp_path: Path, settings: ResolvedSettings
) -> None:
    folder = DropFolder(tmp_path)
    drop(folder, "a.csv", "one")
    drop(folder, "b.csv", "two")
    script = Script({"a.csv": ApiError("API unreachable after retries")})
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert report.exit_code == 2
    assert "unreachable" in report.fatal
    assert names(folder.processing) == ["a.csv"]
    assert names(folder.inbox) == ["b.csv"]  # the pass stopped: nothing else attempted

    script.answers.clear()  # the API is back
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert report.exit_code == 0
    assert script.calls == ["a.csv", "a.csv", "b.csv"]
    assert names(folder.done) == ["a.csv", "a.csv.report.xlsx", "b.csv", "b.csv.report.xlsx"]


def test_a_pass_killed_after_deciding_is_finished_without_resending(
    tmp_path: Path, settings: ResolvedSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = DropFolder(tmp_path)
    drop(folder, "a.csv", "one")
    script = Script()
    real_replace = os.replace

    def crash_on_final_move(src: Any, dst: Any) -> None:
        if Path(dst).parent == folder.done and not str(dst).endswith(".report.xlsx"):
            raise KeyboardInterrupt  # the process dies between the decision and the move
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_final_move)
    with pytest.raises(KeyboardInterrupt):
        watch_folder(folder, settings, once=True, settle=0, processor=script)
    monkeypatch.setattr(os, "replace", real_replace)
    assert names(folder.processing) == ["a.csv"]

    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert script.calls == ["a.csv"]  # decided before: not processed again
    assert names(folder.done) == ["a.csv", "a.csv.report.xlsx"]
    assert report.outcomes[0].status == "done"


def test_a_file_still_growing_waits(tmp_path: Path, settings: ResolvedSettings) -> None:
    folder = DropFolder(tmp_path)
    growing = drop(folder, "big.csv", "part")
    steady = drop(folder, "small.csv", "done")

    def sleep(seconds: float) -> None:
        assert seconds == 5
        with growing.open("a", encoding="utf-8") as handle:
            handle.write(" and more")

    script = Script()
    watch_folder(folder, settings, once=True, settle=5, processor=script, sleep=sleep)
    assert script.calls == ["small.csv"]
    assert not steady.exists()
    assert growing.exists()


def test_second_watcher_is_refused_by_the_lock(tmp_path: Path, settings: ResolvedSettings) -> None:
    folder = DropFolder(tmp_path)
    with folder.locked(), pytest.raises(LockHeldError, match="another watch"):
        watch_folder(folder, settings, once=True, settle=0, processor=Script())
    assert LockHeldError("x").exit_code == 3


def test_loop_mode_stops_when_asked(tmp_path: Path, settings: ResolvedSettings) -> None:
    folder = DropFolder(tmp_path)
    stop = threading.Event()
    passes: list[int] = []

    def sleep(seconds: float) -> None:
        passes.append(1)
        if len(passes) == 1:
            drop(folder, "late.csv", "late")
        else:
            stop.set()

    script = Script()
    report = watch_folder(
        folder, settings, once=False, interval=1, settle=0, stop=stop, processor=script, sleep=sleep
    )
    assert script.calls == ["late.csv"]
    assert report.passes == 2


def test_an_unconfirmed_large_send_stops_with_its_own_exit_code(
    tmp_path: Path, settings: ResolvedSettings
) -> None:
    folder = DropFolder(tmp_path)
    drop(folder, "big.csv", "many rows")
    script = Script({"big.csv": ConfirmationRequired("50,000 rows: set assume_yes = true")})
    report = watch_folder(folder, settings, once=True, settle=0, processor=script)
    assert report.exit_code == 5
    assert names(folder.processing) == ["big.csv"]
    assert "assume_yes" in report.outcomes[0].describe()


def test_a_file_taken_back_during_the_settle_wait_is_skipped(
    tmp_path: Path, settings: ResolvedSettings
) -> None:
    folder = DropFolder(tmp_path)
    gone = drop(folder, "oops.csv", "x")
    drop(folder, "kept.csv", "y")

    def sleep(seconds: float) -> None:
        gone.unlink()  # still listed by the first look, gone by the second

    script = Script()
    report = watch_folder(folder, settings, once=True, settle=1, processor=script, sleep=sleep)
    assert script.calls == ["kept.csv"]
    assert report.exit_code == 0
