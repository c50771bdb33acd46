"""--failed OUT: the rows that did not go through, in the input's layout plus upload_error; fixed
in a spreadsheet and uploaded as they are, they join the same run's open batch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from tests.features.conftest import phone, received
from tests.helpers import RunCli
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.emulator import EmulatorHandle
from uploader.resend import FAILED_COLUMN, batch_tag

HEADER = ["First Name", "notes", "Mobile", "Ref"]  # an odd order the failed file must keep


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Contacts"
    sheet.append(HEADER)
    for i in range(1, 7):
        sheet.append([f"Name{i}", f"note {i}", phone(i), f"r{i}"])
    sheet.append(["Name7", "bad number", "555-12", "r7"])  # refused: phone
    sheet.append([None, "no name", phone(8), "r8"])  # refused: required first name
    path = tmp_path / "contacts.xlsx"
    book.save(path)
    return path


def _results(emulator: EmulatorHandle, batch_id: str) -> dict[str, dict]:
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    with SyllableClient(config) as api:
        return {r["reference_id"]: r for r in api.results(batch_id)}


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_failed_rows_fixed_and_resent_join_the_original_batch(
    workbook: Path,
    tmp_path: Path,
    run_cli: RunCli,
    server_args: list[str],
    emulator: EmulatorHandle,
    suffix: str,
) -> None:
    failed = tmp_path / f"failed{suffix}"
    common = [*server_args, "--campaign-id", 9, "--map", "reference_id=Ref",
              "--require-vars", "First Name"]  # fmt: skip
    code, out, err = run_cli("upload", workbook, *common, "--failed", failed, "--json")
    assert code == 1, out + err
    first = json.loads(out)
    assert first["failed_rows"] == 2
    (batch_id,) = [b["batch_id"] for b in first["batches"]]

    if suffix == ".xlsx":
        book = openpyxl.load_workbook(failed)
        sheet = book.worksheets[0]
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
    else:
        with failed.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    assert rows[0] == [*HEADER, FAILED_COLUMN]
    assert [r[:4] for r in rows[1:]] == [
        ["Name7", "bad number", "555-12", "r7"],
        [rows[2][0], "no name", phone(8), "r8"],
    ]
    assert not rows[2][0]  # the empty cell stays empty
    assert "phone number" in rows[1][4] and "'First Name'" in rows[2][4]
    assert all(batch_tag(r[4]) == batch_id for r in rows[1:])

    # fixed "in Excel": the bad number and the missing name, nothing else touched
    rows[1][2] = phone(7)
    rows[2][0] = "Name8"
    if suffix == ".xlsx":
        for j, value in enumerate(rows[1]):
            sheet.cell(row=2, column=j + 1, value=value)
        sheet.cell(row=3, column=1, value="Name8")
        book.save(failed)
    else:
        with failed.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(rows)

    report = tmp_path / "resent.csv"
    code, out, err = run_cli("upload", failed, *common, "--report", report, "--json")
    assert code == 0, out + err
    second = json.loads(out)
    assert second["mode"] == "add"
    assert [b["batch_id"] for b in second["batches"]] == [batch_id]
    assert second["counts"]["accepted"] == 2

    held = _results(emulator, batch_id)  # the combined picture on the server
    assert sorted(held, key=lambda r: int(r[1:])) == [f"r{i}" for i in range(1, 9)]
    assert held["r7"]["target"] == phone(7)
    assert held["r8"]["request_variables"] == {"First Name": "Name8", "notes": "no name"}
    assert FAILED_COLUMN not in held["r7"]["request_variables"]  # never sent as a variable
    assert all(v["applied"] == 1 for v in received(emulator, batch_id).values())
    with report.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [(r["Ref"], r["upload_status"], r["batch_id"]) for r in lines] == [
        ("r7", "accepted", batch_id),
        ("r8", "accepted", batch_id),
    ]


def test_resend_makes_new_batches_when_the_old_one_is_closed(
    workbook: Path,
    tmp_path: Path,
    run_cli: RunCli,
    server_args: list[str],
    emulator: EmulatorHandle,
) -> None:
    failed = tmp_path / "failed.csv"
    common = [*server_args, "--campaign-id", 9, "--map", "reference_id=Ref"]
    code, out, err = run_cli("upload", workbook, *common, "--failed", failed, "--json")
    assert code == 1, out + err
    (batch_id,) = [b["batch_id"] for b in json.loads(out)["batches"]]
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    with SyllableClient(config) as api:
        api.delete_batch(batch_id, "campaign over")
    text = failed.read_text(encoding="utf-8-sig").replace("555-12", phone(7))
    failed.write_text(text, encoding="utf-8-sig")
    code, out, err = run_cli("upload", failed, *common, "--json")
    assert code == 0, out + err
    (new_batch,) = [b["batch_id"] for b in json.loads(out)["batches"]]
    assert new_batch != batch_id
    assert sorted(received(emulator, new_batch)) == ["r7"]
