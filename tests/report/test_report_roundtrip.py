"""Round trip against the emulator: the user's CSV/XLSX in, the same rows and columns out, with
each row's verdict and the server's per-request results beside it, before and after outreach."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from tests.report.conftest import write_rows_csv
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, RetryConfig
from uploader.models import RowIssue, RowOutcome, RowStatus, ValidationResult
from uploader.reader import read_table
from uploader.reporter import ADDED_COLUMNS, results, watch_results, write_report

HEADERS = ["Member ID", "Phone", "First Name", "Notes"]
# row 2 accepted, 3 refused (ours), 4 blank, 5 accepted, 6 rejected (server INVALID),
# 7 failed (never reached the server), 8 valid but not sent (pending)
ROWS: list[list[Any]] = [
    ["m1", "512-555-0101", "Ann", '=HYPERLINK("http://x","y")'],
    ["m2", "not a phone", "Bob", ""],
    ["", "", "", ""],
    ["m4", "(512) 555-0104", "Chloé", "+SUM(1,2)"],
    ["m5", "512-055-0105", "Dmitri", "@cmd"],
    ["m6", "512-555-0106", "Ed", "-2+3"],
    ["m7", "512-555-0107", "Fay", ""],
]
E164 = {
    "m1": "+15125550101",
    "m4": "+15125550104",
    "m5": "+15120550105",
    "m6": "+15125550106",
    "m7": "+15125550107",
}
STATUS = ["valid", "refused", "blank", "valid", "valid", "valid", "valid"]
BATCH = "roundtrip-001"


def write_input(path: Path, numeric_phone: bool) -> None:
    if path.suffix == ".csv":
        write_rows_csv(path, [HEADERS, *ROWS])
        return
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Contacts"
    ws.append(HEADERS)
    for row in ROWS:
        cells: list[Any] = [v or None for v in row]
        if numeric_phone and row[0] == "m1":
            cells[1] = 5125550101  # a number cell, as Excel stores a typed phone number
        ws.append(cells)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # bait stored as text, the way a cautious user would type it
    wb.save(path)


def validation_for(path: Path) -> ValidationResult:
    """The validator's view of ROWS (built here so the test pins exactly what it expects)."""
    table = read_table(path)
    refs = [str(r[0]) for r in ROWS]
    return ValidationResult(
        table=table,
        mapping=__import__("uploader.models").models.ColumnMapping(
            "Member ID", "Phone", ("First Name", "Notes")
        ),
        records=[],
        issues=[
            RowIssue(
                "invalid_target", 3, "Phone", "not a phone", "Phone: 'not a phone' is no number"
            )
        ],
        statuses=STATUS,
        targets_e164=[E164.get(r, "") for r in refs],
        reference_ids=refs,
    )


def outcomes_for() -> dict[int, RowOutcome]:
    """The engine's verdicts for this run (until the engine is wired in, written out by hand)."""
    sent = {"m1", "m4", "m5"}
    out: dict[int, RowOutcome] = {}
    for number, (row, status) in enumerate(zip(ROWS, STATUS, strict=True), start=2):
        ref = str(row[0])
        if status == "blank":
            out[number] = RowOutcome(number, RowStatus.BLANK)
        elif status == "refused":
            out[number] = RowOutcome(number, RowStatus.REFUSED, "", ref)
        elif ref in sent:
            out[number] = RowOutcome(number, RowStatus.ACCEPTED, "", ref, BATCH, E164[ref])
        elif ref == "m6":
            error = "gave up after 8 attempts (503 Service Unavailable)"
            out[number] = RowOutcome(number, RowStatus.FAILED, error, ref, BATCH, E164[ref])
    return out  # m7 has no outcome: validated, never sent


def upload(client: SyllableClient) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["reference_id", "target", "First Name", "Notes"])
    for row in ROWS:
        if row[0] in {"m1", "m4", "m5"}:
            writer.writerow([row[0], E164[str(row[0])], row[2], row[3]])
    client.create_batch(BATCH, 1, paused=False)
    client.upload_batch(BATCH, buf.getvalue().encode(), "contacts.csv")
    for _ in range(200):
        if len(client.results(BATCH)) == 3:
            return
        time.sleep(0.02)
    raise AssertionError("the emulator never processed the upload")


def read_report(path: Path) -> list[list[str]]:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return [[_text(v) for v in row] for row in rows]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def neutralised(rows: list[list[str]]) -> list[list[str]]:
    """What a CSV report shows: formula-like cells (none of ROWS is a plain number) quoted."""
    return [[("'" + v if v and v[0] in "=+@-" else v) for v in row] for row in rows]


def expected_input_cells(path: Path) -> list[list[str]]:
    """The input's cells as a person sees them in the spreadsheet."""
    if path.suffix == ".csv":
        return [[str(v) for v in row] for row in ROWS]
    wb = openpyxl.load_workbook(path)
    return [[_text(c.value) for c in row] for row in wb.active.iter_rows(min_row=2)]


@pytest.fixture
def client(emulator: Any) -> Any:
    config = ClientConfig(
        server_url=emulator.url,
        api_key=ApiKey(emulator.api_key),
        retry=RetryConfig(max_attempts=3, max_elapsed=5),
    )
    with SyllableClient(config) as c:
        yield c


@pytest.mark.parametrize(
    ("input_name", "report_name"),
    [("in.csv", "out.csv"), ("in.xlsx", "out.xlsx"), ("in.xlsx", "out.csv"), ("in.csv", "out.ods")],
)
def test_round_trip_before_and_after_outreach(
    tmp_path: Path, emulator: Any, client: SyllableClient, input_name: str, report_name: str
) -> None:
    source = tmp_path / input_name
    write_input(source, numeric_phone=True)
    validation = validation_for(source)
    outcomes = outcomes_for()
    upload(client)

    # right after the upload: nothing called yet
    report = tmp_path / report_name
    found = results(client, [BATCH])
    summary = write_report(report, validation, outcomes, found)
    if report.suffix == ".ods":
        import pandas as pd

        frame = pd.read_excel(report, engine="odf", dtype=str, keep_default_na=False)
        got = [list(frame.columns), *frame.values.tolist()]
    else:
        got = read_report(report)
    assert got[0] == HEADERS + list(ADDED_COLUMNS)
    assert len(got) == 1 + len(ROWS) == 1 + summary.rows
    expected = expected_input_cells(source)
    if report.suffix == ".csv":
        expected = neutralised(expected)
    assert [r[:4] for r in got[1:]] == expected
    cols = {name: i for i, name in enumerate(got[0])}
    status = [r[cols["upload_status"]] for r in got[1:]]
    assert status == ["accepted", "refused", "blank", "accepted", "rejected", "failed", "pending"]
    assert [r[cols["row_number"]] for r in got[1:]] == ["2", "3", "4", "5", "6", "7", "8"]
    request = [r[cols["request_status"]] for r in got[1:]]
    assert request[0] in {"PENDING", "INITIATED"} and request[4] == "INVALID"
    assert request[1] == request[2] == request[5] == request[6] == ""
    assert "no number" in got[2][cols["upload_error"]]
    assert "INVALID" in got[5][cols["upload_error"]]
    assert "gave up after 8 attempts" in got[6][cols["upload_error"]]
    assert got[1][cols["batch_id"]] == BATCH and got[1][cols["target_e164"]] == "+15125550101"

    # simulated outreach runs its course; watch until nothing is PENDING/INITIATED
    emulator.configure(time_scale=100_000)
    watched = watch_results(client, [BATCH], timeout=30, interval=0.05)
    assert watched.settled and watched.open_requests == 0
    write_report(report, validation, outcomes, watched.results)
    if report.suffix == ".ods":
        return
    got = read_report(report)
    after = {r[0]: r for r in got[1:]}
    for ref in ("m1", "m4"):
        row = after[ref]
        assert row[cols["request_status"]] in {"COMPLETED", "FAILED"}
        assert row[cols["upload_status"]] == "accepted"
        assert int(row[cols["attempt_count"]]) >= 1
        assert row[cols["sent_at"]] and int(row[cols["session_id"]]) > 0
        assert row[cols["conversation_id"]] and row[cols["channel_manager_status"]]
    assert after["m5"][cols["request_status"]] == "INVALID"
    assert [r[cols["upload_status"]] for r in got[1:]] == status


def test_xlsx_report_of_a_real_batch_has_no_formulas(
    tmp_path: Path, client: SyllableClient
) -> None:
    source = tmp_path / "in.csv"
    write_input(source, numeric_phone=False)
    upload(client)
    report = tmp_path / "out.xlsx"
    write_report(report, validation_for(source), outcomes_for(), results(client, [BATCH]))
    wb = openpyxl.load_workbook(report)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    notes = [c.value for c in wb.worksheets[0]["D"][1:]]
    assert notes[0] == '=HYPERLINK("http://x","y")' and notes[3] == "+SUM(1,2)"
