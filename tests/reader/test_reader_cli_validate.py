"""``syllable-upload validate``: summary, --json, --report, exit codes 0/1/2, shared read flags."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import RunCli
from uploader import validate
from uploader.config import ReadOptions

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py: no user key or config


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_all_valid_exits_0(tmp_path: Path, run_cli: RunCli) -> None:
    path = _csv(tmp_path / "ok.csv", [["ID", "Phone"], ["1", "5125551234"], ["", ""]])
    code, out, _ = run_cli("validate", path)
    assert code == 0
    assert "2 rows read" in out and "valid          1" in out and "blank skipped  1" in out


def test_refused_rows_exit_1_with_examples_and_json(tmp_path: Path, run_cli: RunCli) -> None:
    path = _csv(
        tmp_path / "bad.csv",
        [["ID", "Phone"], ["1", "5125551234"], ["2", "555"], ["1", "4155550100"]],
    )
    code, out, _ = run_cli("validate", path)
    assert code == 1
    assert "invalid target: 1" in out and "Row 3" in out and "already used on row 2" in out
    code, out, _ = run_cli("validate", path, "--json")
    assert code == 1
    data = json.loads(out)
    expected = validate(path, ReadOptions()).summary()
    assert {k: data[k] for k in expected} == expected
    assert data["examples"]["invalid_target"][0]["row_number"] == 3


def test_unreadable_file_exits_2_with_one_line(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, err = run_cli("validate", tmp_path / "missing.xlsx")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error:") and "does not exist" in err
    assert "Traceback" not in err
    headerless = _csv(tmp_path / "nophone.csv", [["Name"], ["Ann"]])
    code, _, err = run_cli("validate", headerless)
    assert code == 2 and "--map target" in err


def test_read_flags_map_header_row_sheet_and_mapping_file(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["just notes"])
    ws = wb.create_sheet("People")
    ws.append(["Export of 2024-03-01"])
    ws.append(["Member ID", "Home", "Name"])
    ws.append(["m1", 5125551234, "Ann"])
    wb.save(path)
    code, out, _ = run_cli(
        "validate",
        path,
        "--sheet",
        "People",
        "--header-row",
        "2",
        "--map",
        "target=Home",
        "--map",
        "reference_id=Member ID",
        "--json",
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["sheet"] == "People" and data["valid"] == 1
    assert data["mapping"]["variables"] == ["Name"]
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'sheet = "People"\nheader_row = 2\n'
        '[columns]\ntarget = "Home"\nreference_id = "Member ID"\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli("validate", path, "--mapping", mapping, "--json")
    assert code == 0 and json.loads(out)["valid"] == 1


def test_report_has_one_row_per_spreadsheet_row(tmp_path: Path, run_cli: RunCli) -> None:
    path = _csv(
        tmp_path / "in.csv",
        [["ID", "Phone", "Name"], ["1", "5125551234", "Ann"], ["", "", ""], ["2", "x", "Bob"]],
    )
    report = tmp_path / "problems.csv"
    code, out, _ = run_cli("validate", path, "--report", report)
    assert code == 1 and str(report) in out
    with open(report, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["upload_status"] for r in rows] == ["valid", "blank", "refused"]
    assert [r["row_number"] for r in rows] == ["2", "3", "4"]
    assert rows[0]["target_e164"] == "+15125551234"
    assert "not a valid phone number" in rows[2]["upload_error"]
    assert rows[2]["Name"] == "Bob"
