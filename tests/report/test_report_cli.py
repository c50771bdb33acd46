"""``syllable-upload results`` end to end against the emulator, through ``main``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from tests.helpers import RunCli
from tests.report.conftest import processed_batch, write_rows_csv
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


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py: no user key or config


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_rows_csv(tmp_path / "contacts.csv", [HEADERS, *ROWS])


@pytest.fixture
def batch(emulator: Any) -> str:
    """A processed batch holding m1 and m4."""
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    body = "reference_id,target,First Name\nm1,+15125550101,Ann\nm4,+15125550104,Chloé\n"
    with SyllableClient(config) as client:
        return processed_batch(client, BATCH, body, "contacts.csv", requests=2)


@pytest.fixture
def results(run_cli: RunCli, emulator: Any) -> RunCli:
    """``results("--batch-id", b, key=True)``: ``syllable-upload results`` against the emulator.

    With ``key`` the emulator's key is in the environment for this one command, as in use.
    """

    def run(*args: object, key: bool = True) -> tuple[int, str, str]:
        with pytest.MonkeyPatch.context() as mp:
            if key:
                mp.setenv("SYLLABLE_API_KEY", emulator.api_key)
            return run_cli("results", "--server-url", emulator.url, *args)

    return run


@contextmanager
def journal_run(
    path: Path,
    source: Path,
    batches: list[tuple[int, str, int]],
    rows: list[PlannedRow],
    created: Sequence[int] = (),
) -> Iterator[tuple[Journal, Any]]:
    """A journal holding one run of ``source`` whose ``created`` batches the server has."""
    with Journal(path) as journal:
        run_info = journal.create_run(
            fingerprint="fp",
            file_path=str(source),
            file_hash="h",
            settings={},
            batches=batches,
            rows=rows,
        )
        for number in created:
            journal.batch_creating(run_info, number)
            journal.batch_created(run_info, number)
        yield journal, run_info


def read_xlsx(path: Path) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def test_results_beside_the_source_rows(
    results: RunCli, emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    report = tmp_path / "outcome.xlsx"
    code, out, err = results(
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
    results: RunCli, batch: str, tmp_path: Path
) -> None:
    report = tmp_path / "server.csv"
    code, out, err = results("--batch-id", batch, "--report", report)
    assert code == 0, err
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["reference_id", "target", "First Name"]
    assert [r[0] for r in rows[1:]] == ["m1", "m4"]
    assert "accepted" in out and "Report:" in out


def test_watch_until_outreach_settles(
    results: RunCli, emulator: Any, batch: str, source: Path, tmp_path: Path
) -> None:
    emulator.configure(time_scale=100_000)
    report = tmp_path / "final.csv"
    args = ["--batch-id", batch, "--source", source, *MAP, "--report", report]
    code, out, err = results(*args, "--watch", "--interval", "0.1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["watched"] and data["settled"] and data["open_requests"] == 0
    assert set(data["by_request_status"]) <= {"COMPLETED", "FAILED"}
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["request_status"] in {"COMPLETED", "FAILED"} and rows[0]["sent_at"]


def test_watch_timeout_keeps_the_last_picture(
    results: RunCli, emulator: Any, batch: str, tmp_path: Path
) -> None:
    emulator.configure(time_scale=0.001)  # nothing will move within the test
    report = tmp_path / "partial.csv"
    args = ["--batch-id", batch, "--report", report, "--watch", "--watch-timeout", "0.3"]
    code, _out, err = results(*args, "--interval", "0.1")
    assert code == 0
    assert "still open" in err and report.exists()


def test_journal_gives_batches_outcomes_and_source(
    results: RunCli, batch: str, source: Path, tmp_path: Path
) -> None:
    journal_path = tmp_path / "run.journal"
    rows = [
        PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
        PlannedRow(3, RowState.REFUSED, None, "m2", "", None, "bad phone"),
        PlannedRow(4, RowState.BLANK),
        PlannedRow(5, RowState.PENDING, 1, "m4", "+15125550104"),
    ]
    with journal_run(journal_path, source, [(1, batch, 2)], rows, created=[1]) as (
        journal,
        run_info,
    ):
        journal.rows_sending(run_info, [2, 5])
        journal.row_accepted(run_info, 2)
        journal.row_failed(run_info, 5, "gave up after 8 attempts")
    report = tmp_path / "from-journal.csv"
    code, _out, err = results("--journal", journal_path, *MAP, "--report", report, "--json")
    assert code == 0, err
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # row 5 "failed" locally, but the server holds it: the server's word wins
    assert [r["upload_status"] for r in rows] == ["accepted", "refused", "blank", "accepted"]
    assert rows[0]["batch_id"] == batch and rows[3]["request_status"]


def test_journal_against_a_changed_file_is_refused(
    results: RunCli, batch: str, tmp_path: Path
) -> None:
    moved = write_rows_csv(tmp_path / "moved.csv", [HEADERS, ROWS[3], ROWS[0]])  # rows swapped
    journal_path = tmp_path / "run.journal"
    rows = [
        PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
        PlannedRow(3, RowState.PENDING, 1, "m4", "+15125550104"),
    ]
    with journal_run(journal_path, moved, [(1, batch, 2)], rows, created=[1]):
        pass  # the batch was made; nothing was sent
    code, _, err = results("--journal", journal_path, *MAP, "--report", tmp_path / "r.csv")
    assert code == 2 and "no longer match the journal" in err


def test_needs_batches_and_a_key(results: RunCli, tmp_path: Path) -> None:
    code, _, err = results("--report", tmp_path / "r.csv")
    assert code == 2 and "--batch-id" in err
    code, _, err = results("--batch-id", "x", key=False)
    assert code == 2 and "no API key" in err


def test_summary_text_without_report(results: RunCli, batch: str) -> None:
    code, out, err = results("--batch-id", batch)
    assert code == 0, err
    assert "2 requests in 1 batches" in out


def test_unknown_batch_is_a_clear_error(results: RunCli, emulator: Any) -> None:
    code, _, err = results("--batch-id", "nope")
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_journal_batches_never_created_are_passed_over(
    results: RunCli, batch: str, source: Path, tmp_path: Path
) -> None:
    journal_path = tmp_path / "run.journal"
    batches = [(1, batch, 1), (2, "cli-results-002", 1), (3, "cli-results-003", 1)]
    rows = [
        PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101"),
        PlannedRow(3, RowState.REFUSED, None, "m2", "", None, "bad phone"),
        PlannedRow(4, RowState.BLANK),
        PlannedRow(5, RowState.PENDING, 2, "m4", "+15125550104"),
    ]
    with journal_run(journal_path, source, batches, rows, created=[1]) as (journal, run_info):
        journal.batch_creating(run_info, 2)  # died before the server answered: maybe absent
    report = tmp_path / "partial-run.csv"
    code, _out, err = results("--journal", journal_path, *MAP, "--report", report)
    assert code == 0, err
    assert "cli-results-002" in err  # said so, did not fail
    with open(report, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["request_status"] and rows[3]["upload_status"] == "pending"


def test_journal_without_created_batches(results: RunCli, source: Path, tmp_path: Path) -> None:
    journal_path = tmp_path / "run.journal"
    rows = [PlannedRow(2, RowState.PENDING, 1, "m1", "+15125550101")]
    with journal_run(journal_path, source, [(1, "never-001", 1)], rows):
        pass  # the run died before its first batch was made
    code, _, err = results("--journal", journal_path, *MAP)
    assert code == 2 and "created no batch" in err
