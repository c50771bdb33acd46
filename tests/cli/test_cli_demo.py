"""``syllable-upload demo``: the whole pipeline on the samples, against an in-process emulator."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl


def rows(path: Path) -> list[dict[str, object]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        values = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()  # read-only workbooks keep the file open until closed
    header = [str(h) for h in values[0]]
    return [dict(zip(header, row, strict=True)) for row in values[1:]]


def test_demo_end_to_end_json(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("demo", "--json")
    assert code == 0, err
    assert "nothing leaves this machine" in err
    data = json.loads(out)
    assert set(data) == {"emulator", "local_only", "out_dir", "files", "elapsed_s"}
    assert data["local_only"] is True
    assert data["emulator"].startswith("http://127.0.0.1:")
    assert Path(data["out_dir"]) == Path("syllable-demo-output")  # default, under the cwd
    by_name = {Path(f["source"]).name: f for f in data["files"]}
    assert set(by_name) == {"contacts-clean.xlsx", "contacts-messy.csv"}

    clean = by_name["contacts-clean.xlsx"]
    assert clean["counts"]["accepted"] == 8
    assert clean["settled"] is True
    assert sum(clean["by_request_status"].values()) == 8
    assert set(clean["by_request_status"]) <= {"COMPLETED", "FAILED"}

    messy = by_name["contacts-messy.csv"]
    assert messy["counts"]["refused"] == 4
    assert messy["counts"]["blank"] == 1
    assert messy["problems"]["duplicate_reference_id"] == 1

    report = tmp_path / messy["report"]
    assert report.exists()
    table = rows(report)
    assert len(table) == 12  # every row of the sample, blank included
    statuses = [r["upload_status"] for r in table]
    assert statuses.count("accepted") == 7
    assert statuses.count("blank") == 1
    accepted = [r for r in table if r["upload_status"] == "accepted"]
    assert all(r["request_status"] in {"COMPLETED", "FAILED"} for r in accepted)
    refused = [r for r in table if r["upload_status"] == "refused"]
    assert all(r["upload_error"] for r in refused)
    assert (tmp_path / "syllable-demo-output" / "journal").is_dir()


def test_demo_twice_into_the_same_folder_and_quiet(run_cli, tmp_path: Path) -> None:
    out_dir = tmp_path / "d"
    assert run_cli("demo", "--out", out_dir)[0] == 0
    code, out, err = run_cli("-q", "demo", "--out", out_dir)  # a fresh emulator: fresh journals
    assert (code, out, err) == (0, "", "")
    assert len(list((out_dir / "reports").glob("*.xlsx"))) == 2
