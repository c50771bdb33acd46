"""The real engine uploads the user's file to the emulator; the report lays every verdict and
the server's results beside the original rows: accepted, refused, rejected, failed and blank."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from tests.helpers import RunCli
from tests.report.conftest import write_rows_csv
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, ReadOptions, RetryConfig, UploadOptions
from uploader.engine import upload
from uploader.reporter import (
    ADDED_COLUMNS,
    neutralise_csv_value,
    results,
    watch_results,
    write_report,
)

HEADERS = ["Member ID", "Phone", "First Name", "Notes"]
ROWS = [
    ["m1", "512-555-0101", "Ann", '=HYPERLINK("http://x","y")'],
    ["m2", "not a phone", "Bob", ""],
    ["", "", "", ""],
    ["m4", "+683 4002", "Niue", "valid for us, INVALID for the server"],
    ["m5", "512-555-0105", "Ed", "-2+3"],
]
READ = ReadOptions(column_map={"reference_id": "Member ID", "target": "Phone"})
FAST_RETRY = RetryConfig(max_attempts=2, max_elapsed=2.0, initial_wait=0.01, max_wait=0.02)


def write_input(path: Path) -> None:
    if path.suffix == ".csv":
        write_rows_csv(path, [HEADERS, *ROWS])
        return
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in ROWS:
        ws.append([v or None for v in row])
    ws["D2"].data_type = "s"  # the bait is text in the user's file, not a formula
    wb.save(path)


def read_back(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, [_text(v) for v in row], strict=True)) for row in rows[1:]]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def config(emulator: Any) -> ClientConfig:
    return ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key), retry=FAST_RETRY)


@pytest.mark.parametrize(
    ("source_name", "report_name"), [("in.csv", "out.xlsx"), ("in.xlsx", "out.csv")]
)
def test_engine_run_reported_before_and_after_outreach(
    tmp_path: Path, emulator: Any, source_name: str, report_name: str
) -> None:
    source = tmp_path / source_name
    write_input(source)
    options = UploadOptions(campaign_id=1, journal_path=tmp_path / "run.journal", wait_timeout=10)
    result = upload(source, READ, options, config(emulator), sleep=lambda _s: None)
    batch_ids = [b.batch_id for b in result.batches]
    report = tmp_path / report_name
    with SyllableClient(config(emulator)) as client:
        found = results(client, batch_ids)
        summary = write_report(report, result.validation, result.outcomes, found)
        rows = read_back(report)
        assert list(rows[0]) == HEADERS + list(ADDED_COLUMNS)
        assert len(rows) == len(ROWS) == summary.rows
        shown = neutralise_csv_value if report.suffix == ".csv" else str
        assert [[r[h] for h in HEADERS] for r in rows] == [[shown(v) for v in row] for row in ROWS]
        assert [r["upload_status"] for r in rows] == [
            "accepted",
            "refused",
            "blank",
            "rejected",
            "accepted",
        ]
        assert [r["row_number"] for r in rows] == ["2", "3", "4", "5", "6"]
        assert "not a valid phone number" in rows[1]["upload_error"]
        assert not rows[1]["upload_error"].startswith("Row 3")
        assert rows[3]["request_status"] == "INVALID" and "INVALID" in rows[3]["upload_error"]
        assert rows[3]["upload_error"].count("INVALID") == 1
        assert rows[0]["target_e164"] == "+15125550101" and rows[0]["batch_id"] == batch_ids[0]
        assert rows[0]["request_status"] in {"PENDING", "INITIATED"}
        assert rows[2]["batch_id"] == rows[2]["request_status"] == ""

        emulator.configure(time_scale=100_000)
        watched = watch_results(client, batch_ids, timeout=30, interval=0.05)
        assert watched.settled
        write_report(report, result.validation, result.outcomes, watched.results)
    rows = read_back(report)
    for row in (rows[0], rows[4]):
        assert row["request_status"] in {"COMPLETED", "FAILED"}
        assert row["channel_manager_status"] and row["sent_at"] and int(row["attempt_count"]) >= 1
        assert int(row["session_id"]) > 0 and int(row["conversation_id"]) > 0
    assert [r["upload_status"] for r in rows][:2] == ["accepted", "refused"]


def test_failed_rows_after_the_retry_budget(tmp_path: Path, emulator: Any) -> None:
    source = tmp_path / "in.csv"
    write_input(source)
    with SyllableClient(config(emulator)) as client:
        client.create_batch("prefilled-001", 1, paused=True)
    emulator.set_faults(error_rate=1.0, fault_methods=["POST"])  # every add fails
    options = UploadOptions(
        campaign_id=1,
        mode="add",
        batch_id="prefilled-001",
        concurrency=1,
        journal_path=tmp_path / "add.journal",
    )
    result = upload(source, READ, options, config(emulator), sleep=lambda _s: None)
    emulator.clear_faults()
    with SyllableClient(config(emulator)) as client:
        found = results(client, ["prefilled-001"])
    report = tmp_path / "failed.xlsx"
    summary = write_report(report, result.validation, result.outcomes, found)
    rows = read_back(report)
    assert [r["upload_status"] for r in rows] == ["failed", "refused", "blank", "failed", "failed"]
    assert all("gave up after 2 attempts" in rows[i]["upload_error"] for i in (0, 3, 4))
    assert all(rows[i]["batch_id"] == "prefilled-001" for i in (0, 3, 4))
    assert rows[0]["request_status"] == ""
    assert summary.by_upload_status == {"failed": 3, "refused": 1, "blank": 1}


@pytest.mark.usefixtures("clean_env")
def test_results_command_from_an_engine_journal(
    tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    source = tmp_path / "in.csv"
    write_input(source)
    journal = tmp_path / "run.journal"
    options = UploadOptions(campaign_id=1, journal_path=journal, wait_timeout=10)
    upload(source, READ, options, config(emulator), sleep=lambda _s: None)
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    out = tmp_path / "from-journal.xlsx"
    code, stdout, err = run_cli(
        "results", "--journal", journal, "--map", "reference_id=Member ID", "--map",
        "target=Phone", "--server-url", emulator.url, "--report", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(stdout)
    assert data["report"]["by_upload_status"] == {
        "accepted": 2,
        "refused": 1,
        "blank": 1,
        "rejected": 1,
    }
    rows = read_back(out)
    assert [r["Member ID"] for r in rows] == [r[0] for r in ROWS]

    # without --map: the file is read again the way the run read it (the journal recorded it)
    again = tmp_path / "again.csv"
    code, _out, err = run_cli(
        "results", "--journal", journal, "--server-url", emulator.url, "--report", again
    )
    assert code == 0, err
    assert [r["upload_status"] for r in read_back(again)] == [r["upload_status"] for r in rows]
