"""``syllable-upload results`` end to end against the emulator, through ``main``."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from uploader.cli import main
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.journal import Journal, PlannedRow, RowState
from uploader.reporter import ADDED_COLUMNS

HEADERS = ["Member ID", "Phone", "First Name"]
ROWS = [
    ["m1", "512-555-0101", "Ann"],
    ["m2", "not a phone", "Bob"],
    ["", "", ""],
    ["m4", "(512) 555-0104", "Chloé"],
]
MAP = ["--map", "reference_id=Member ID", "--map", "target=Phone"]
BATCH = "cli-results-001"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SYLLABLE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *ROWS])
    return path


@pytest.fixture
def batch(emulator: Any) -> str:
    """A processed batch holding m1 and m4."""
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    body = "reference_id,target,First Name\nm1,+15125550101,Ann\nm4,+15125550104,Chloé\n"
    with SyllableClient(config) as client:
        client.create_batch(BATCH, 1, paused=False)
        client.upload_batch(BATCH, body.encode(), "contacts.csv")
        for _ in range(200):
            if len(client.results(BATCH)) == 2:
                return BATCH
            time.sleep(0.02)
    raise AssertionError("upload never processed")


def run(
    capsys: pytest.CaptureFixture[str], emulator: Any, *args: Any, key: bool = True
) -> tuple[int, str, str]:
    env_key = {"SYLLABLE_API_KEY": emulator.api_key} if key else {}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env_key.items():
            mp.setenv(name, value)
        capsys.readouterr()
        code = main(["results", "--server-url", emulator.url, *(str(a) for a in args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_xlsx(path: Path) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def test_results_beside_the_source_rows(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    report = tmp_path / "outcome.xlsx"
    code, out, err = run(
        capsys,
        emulator,
        "--batch-id",
        batch,
        "--source",
        source,
        *MAP,
        "--report",
        report,
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["batch_ids"] == [batch] and data["requests"] == 2
    assert data["report"]["rows"] == 4
    assert data["report"]["by_upload_status"] == {"accepted": 2, "refused": 1, "blank": 1}
    rows = read_xlsx(report)
    assert rows[0] == HEADERS + list(ADDED_COLUMNS)
    assert [r[:3] for r in rows[1:]] == ROWS
    assert [r[4] for r in rows[1:]] == ["accepted", "refused", "blank", "accepted"]
    assert rows[1][6] == batch and rows[1][8] in {"PENDING", "INITIATED", "COMPLETED"}
    assert "not a valid phone number" in rows[2][5]
    assert emulator.api_key not in report.read_bytes().decode("latin-1")


def test_results_without_source_list_the_servers_requests(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, tmp_path: Path
) -> None:
    report = tmp_path / "server.csv"
    code, out, err = run(capsys, emulator, "--batch-id", batch, "--report", report)
    assert code == 0, err
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["reference_id", "target", "First Name"]
    assert [r[0] for r in rows[1:]] == ["m1", "m4"]
    assert "accepted" in out and "Report:" in out


def test_watch_until_outreach_settles(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    emulator.configure(time_scale=100_000)
    report = tmp_path / "final.csv"
    args = ["--batch-id", batch, "--source", source, *MAP, "--report", report]
    code, out, err = run(capsys, emulator, *args, "--watch", "--interval", "0.1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["watched"] and data["settled"] and data["open_requests"] == 0
    assert set(data["by_request_status"]) <= {"COMPLETED", "FAILED"}
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["request_status"] in {"COMPLETED", "FAILED"} and rows[0]["sent_at"]


def test_watch_timeout_keeps_the_last_picture(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, tmp_path: Path
) -> None:
    emulator.configure(time_scale=0.001)  # nothing will move within the test
    report = tmp_path / "partial.csv"
    args = ["--batch-id", batch, "--report", report, "--watch", "--watch-timeout", "0.3"]
    code, _out, err = run(capsys, emulator, *args, "--interval", "0.1")
    assert code == 0
    assert "still open" in err and report.exists()


def test_journal_gives_batches_outcomes_and_source(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    journal_path = tmp_path / "run.journal"
    with Journal(journal_path) as journal:
        run_info = journal.create_run(
            fingerprint="fp",
            file_path=str(source),
            file_hash="h",
            settings={},
            batches=[(1, batch, 2)],
            rows=[
                PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
                PlannedRow(3, RowState.REFUSED, None, "m2", "", None, "bad phone"),
                PlannedRow(4, RowState.BLANK),
                PlannedRow(5, RowState.PENDING, 1, "m4", "+15125550104"),
            ],
        )
        journal.batch_creating(run_info, 1)
        journal.batch_created(run_info, 1)
        journal.rows_sending(run_info, [2, 5])
        journal.row_accepted(run_info, 2)
        journal.row_failed(run_info, 5, "gave up after 8 attempts")
    report = tmp_path / "from-journal.csv"
    code, _out, err = run(
        capsys, emulator, "--journal", journal_path, *MAP, "--report", report, "--json"
    )
    assert code == 0, err
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # row 5 "failed" locally, but the server holds it: the server's word wins
    assert [r["upload_status"] for r in rows] == ["accepted", "refused", "blank", "accepted"]
    assert rows[0]["batch_id"] == batch and rows[3]["request_status"]


def test_journal_against_a_changed_file_is_refused(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, tmp_path: Path
) -> None:
    moved = tmp_path / "moved.csv"
    with open(moved, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, ROWS[3], ROWS[0]])  # rows swapped since the run
    journal_path = tmp_path / "run.journal"
    with Journal(journal_path) as journal:
        run_info = journal.create_run(
            fingerprint="fp",
            file_path=str(moved),
            file_hash="h",
            settings={},
            batches=[(1, batch, 2)],
            rows=[
                PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
                PlannedRow(3, RowState.PENDING, 1, "m4", "+15125550104"),
            ],
        )
        journal.batch_creating(run_info, 1)
        journal.batch_created(run_info, 1)
    code, _, err = run(
        capsys, emulator, "--journal", journal_path, *MAP, "--report", tmp_path / "r.csv"
    )
    assert code == 2 and "no longer match the journal" in err


def test_needs_batches_and_a_key(
    capsys: pytest.CaptureFixture[str], emulator: Any, tmp_path: Path
) -> None:
    code, _, err = run(capsys, emulator, "--report", tmp_path / "r.csv")
    assert code == 2 and "--batch-id" in err
    code, _, err = run(capsys, emulator, "--batch-id", "x", key=False)
    assert code == 2 and "no API key" in err


def test_summary_text_without_report(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str
) -> None:
    code, out, err = run(capsys, emulator, "--batch-id", batch)
    assert code == 0, err
    assert "2 requests in 1 batches" in out


def test_unknown_batch_is_a_clear_error(capsys: pytest.CaptureFixture[str], emulator: Any) -> None:
    code, _, err = run(capsys, emulator, "--batch-id", "nope")
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_journal_batches_never_created_are_passed_over(
    capsys: pytest.CaptureFixture[str], emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    journal_path = tmp_path / "run.journal"
    with Journal(journal_path) as journal:
        run_info = journal.create_run(
            fingerprint="fp",
            file_path=str(source),
            file_hash="h",
            settings={},
            batches=[(1, batch, 1), (2, "cli-results-002", 1), (3, "cli-results-003", 1)],
            rows=[
                PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
                PlannedRow(3, RowState.REFUSED, None, "m2", "", None, "bad phone"),
                PlannedRow(4, RowState.BLANK),
                PlannedRow(5, RowState.PENDING, 2, "m4", "+15125550104"),
            ],
        )
        journal.batch_creating(run_info, 1)
        journal.batch_created(run_info, 1)
        journal.batch_creating(run_info, 2)  # died before the server answered: maybe absent
    report = tmp_path / "partial-run.csv"
    code, _out, err = run(capsys, emulator, "--journal", journal_path, *MAP, "--report", report)
    assert code == 0, err
    assert "cli-results-002" in err  # said so, did not fail
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["request_status"] and rows[3]["upload_status"] == "pending"


def test_journal_without_created_batches(
    capsys: pytest.CaptureFixture[str], emulator: Any, source: Path, tmp_path: Path
) -> None:
    journal_path = tmp_path / "run.journal"
    with Journal(journal_path) as journal:
        journal.create_run(
            fingerprint="fp",
            file_path=str(source),
            file_hash="h",
            settings={},
            batches=[(1, "never-001", 1)],
            rows=[PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101")],
        )
    code, _, err = run(capsys, emulator, "--journal", journal_path, *MAP)
    assert code == 2 and "created no batch" in err
