"""The drop folder end to end: real files, the real engine, the emulator over HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.helpers import child_env

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def drop(tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "settings.toml").write_text(
        f'campaign_id = 7\nserver_url = "{emulator.url}"\nmode = "upload"\n', encoding="utf-8"
    )
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    return folder


def received(emulator: Any, key: str = "received") -> dict[str, int]:
    """Reference id -> how many times the server received (or applied) it, over every batch."""
    counts: dict[str, int] = {}
    for requests in emulator.stats()["requests"].values():
        for ref, seen in requests.items():
            counts[ref] = counts.get(ref, 0) + seen[key]
    return counts


def report_statuses(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()  # read-only workbooks keep the file open until closed
    column = list(rows[0]).index("upload_status")
    return [str(row[column]) for row in rows[1:]]


def test_good_partly_bad_unreadable_and_repeated_files(run_cli, drop: Path, emulator: Any) -> None:
    inbox = drop / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "contacts-clean.csv", inbox / "good.csv")
    shutil.copy(SAMPLES / "contacts-messy.xlsx", inbox / "partly-bad.xlsx")
    (inbox / "unreadable.xlsx").write_bytes(b"this is not a workbook")

    code, out, err = run_cli("watch", drop, "--once", "--settle", "0", "--json")
    assert code == 1, err  # a file went to failed/
    summary = json.loads(out)
    by_name = {f["name"]: f for f in summary["files"]}
    assert {n: f["status"] for n, f in by_name.items()} == {
        "good.csv": "done",
        "partly-bad.xlsx": "failed",
        "unreadable.xlsx": "failed",
    }
    assert by_name["good.csv"]["counts"]["accepted"] == 8
    assert by_name["partly-bad.xlsx"]["counts"]["refused"] == 3
    assert "workbook" in by_name["unreadable.xlsx"]["error"]

    done, failed = drop / "done", drop / "failed"
    assert sorted(p.name for p in done.iterdir()) == ["good.csv", "good.csv.report.xlsx"]
    assert sorted(p.name for p in failed.iterdir()) == [
        "partly-bad.xlsx",
        "partly-bad.xlsx.report.xlsx",
        "unreadable.xlsx",
        "unreadable.xlsx.error.txt",
    ]
    assert list((drop / "inbox").iterdir()) == []
    assert list((drop / "processing").iterdir()) == []
    assert report_statuses(done / "good.csv.report.xlsx") == ["accepted"] * 8
    statuses = report_statuses(failed / "partly-bad.xlsx.report.xlsx")
    assert statuses.count("accepted") == 8
    assert statuses.count("refused") == 3
    assert statuses.count("blank") == 1
    before = received(emulator)
    assert len(before) == 8 + 8  # the clean ids and the messy file's valid ids
    assert set(before.values()) == {1}

    # The same file dropped again (another name, same bytes): filed, never sent again.
    shutil.copy(SAMPLES / "contacts-clean.csv", inbox / "good (1).csv")
    code, out, err = run_cli("watch", drop, "--once", "--settle", "0")
    assert code == 0, err
    assert "not sent again" in err
    assert (done / "good (1).csv").exists()
    assert "good.csv" in (done / "good (1).csv.duplicate.txt").read_text()
    assert received(emulator) == before


def test_quiet_cron_run_prints_only_problems(run_cli, drop: Path) -> None:
    inbox = drop / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "contacts-clean.xlsx", inbox / "a.xlsx")
    log = drop.parent / "watch.log"
    code, out, err = run_cli("-q", "--log-file", log, "watch", drop, "--once", "--settle", "0")
    assert (code, out, err) == (0, "", "")
    assert "a.xlsx: done" in log.read_text()

    (inbox / "b.csv").write_bytes(b"\xff\xfe\x00garbage\x00" * 3)
    code, out, err = run_cli("-q", "watch", drop, "--once", "--settle", "0")
    assert code == 1
    assert out == ""
    assert "b.csv: failed" in err


def test_empty_inbox_and_settings_errors(run_cli, drop: Path) -> None:
    code, out, _ = run_cli("watch", drop, "--once", "--settle", "0")
    assert code == 0
    assert "nothing to do" in out
    (drop / "settings.toml").write_text("campain_id = 7\n", encoding="utf-8")
    code, out, err = run_cli("watch", drop, "--once")
    assert code == 2
    assert "did you mean 'campaign_id'" in err
    (drop / "settings.toml").write_text("mode = 'add'\n", encoding="utf-8")
    (drop / "inbox" / "a.csv").write_text("id,phone\n1,+15125550100\n", encoding="utf-8")
    code, out, err = run_cli("watch", drop, "--once")
    assert code == 2
    assert "no campaign_id" in err
    assert (drop / "inbox" / "a.csv").exists()  # untouched


def test_unreachable_api_keeps_the_file_for_the_next_run(
    run_cli, drop: Path, emulator: Any
) -> None:
    """Every answer a 503: the file waits in processing/; once the API is back, it goes once."""
    (drop / "inbox").mkdir()
    shutil.copy(SAMPLES / "contacts-clean.csv", drop / "inbox" / "a.csv")
    config = drop.parent / "config.toml"
    config.write_text(
        "[profiles.default]\nmax_attempts = 2\nmax_retry_seconds = 2\n", encoding="utf-8"
    )
    emulator.set_faults(error_rate=1.0)
    code, _, err = run_cli("--config", config, "watch", drop, "--once", "--settle", "0")
    assert code == 2
    assert "left in processing/" in err
    assert (drop / "processing" / "a.csv").exists()

    emulator.clear_faults()
    code, _, err = run_cli("--config", config, "watch", drop, "--once", "--settle", "0")
    assert code == 0, err
    assert (drop / "done" / "a.csv").exists()
    applied = received(emulator, "applied")
    assert len(applied) == 8
    assert set(applied.values()) == {1}


@pytest.mark.slow
def test_sigterm_stops_a_running_watch_cleanly(tmp_path: Path, drop: Path, emulator: Any) -> None:
    """A real `watch` process: picks files up as they arrive, and SIGTERM ends it with 0."""
    import signal
    import subprocess
    import sys
    import time

    env = child_env(SYLLABLE_API_KEY=emulator.api_key, XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "uploader", "watch", str(drop), "--interval", "0.2",
         "--settle", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (drop / "inbox").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.copy(SAMPLES / "contacts-clean.csv", drop / "inbox" / "late.csv")
        while not (drop / "done" / "late.csv").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert (drop / "done" / "late.csv.report.xlsx").exists()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM: finishing the current file, then stopping." in err
    assert "1 file(s): 1 done" in out
    assert len(received(emulator)) == 8
