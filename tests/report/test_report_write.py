"""write_report: layout, statuses, formats, formula safety, awkward inputs; read back for real."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from uploader.config import ApiKey
from uploader.errors import ConfigError
from uploader.models import RowIssue, RowOutcome, RowStatus, ValidationResult
from uploader.reporter import (
    ADDED_COLUMNS,
    added_column_names,
    neutralise_csv_value,
    render_summary,
    report_format_for,
    write_report,
)

MakeValidation = Callable[..., ValidationResult]
BAIT = [
    '=HYPERLINK("http://x","y")',
    "+SUM(1,2)",
    "@cmd",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
    "＝1+1",
]
PLAIN_NUMBERS = ["+15125551234", "-3.5", "+1", "42", "-0"]


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "CSV must carry a UTF-8 BOM for Excel"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def read_xlsx(path: Path, sheet: int = 0) -> list[list[Any]]:
    """Cell values exactly as Excel shows them (calamine unescapes _xHHHH_ like Excel)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(sheet).to_python()
    return [list(r) for r in rows]


def as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


@pytest.fixture
def mixed(make_validation: MakeValidation) -> tuple[ValidationResult, dict[int, RowOutcome], dict]:
    """Six rows: accepted, refused, rejected, failed, blank, and valid-but-never-sent."""
    headers = ["Phone", "Name", "Member ID"]
    rows = [
        ["512-555-1234", "Ann", "m1"],
        ["not a phone", "Bob", "m2"],
        ["512-555-1235", "Cy", "m3"],
        ["512-555-1236", "Di", "m4"],
        ["", "", ""],
        ["512-555-1237", "Ed", "m6"],
    ]
    issues = [
        RowIssue("invalid_target", 3, "Phone", "not a phone", "Phone: 'not a phone' is no number"),
        RowIssue("value_too_long", 3, "Name", "Bob", "Name: too long"),
    ]
    validation = make_validation(
        headers,
        rows,
        statuses=["valid", "refused", "valid", "valid", "blank", "valid"],
        targets=["+15125551234", "", "+15125551235", "+15125551236", "", "+15125551237"],
        reference_ids=["m1", "m2", "m3", "m4", "", "m6"],
        issues=issues,
    )
    outcomes = {
        2: RowOutcome(2, RowStatus.ACCEPTED, "", "m1", "b-001", "+15125551234"),
        3: RowOutcome(3, RowStatus.REFUSED, "", "m2", "", ""),
        4: RowOutcome(4, RowStatus.REJECTED, "409: already in the batch", "m3", "b-001", ""),
        5: RowOutcome(5, RowStatus.FAILED, "gave up after 8 attempts (503)", "m4", "b-002", ""),
        6: RowOutcome(6, RowStatus.BLANK),
    }
    results = {
        ("b-001", "m1"): {
            "reference_id": "m1",
            "target": "+15125551234",
            "request_status": "COMPLETED",
            "attempt_count": 2,
            "sent_at": "2026-03-14T00:00:00Z",
            "session_id": 101,
            "conversation_id": 202,
            "channel_manager_status": "COMPLETED",
            "insights_status": "PROCESSING",
        }
    }
    return validation, outcomes, results


def test_layout_and_statuses_csv(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    summary = write_report(tmp_path / "out.csv", validation, outcomes, results)
    rows = read_csv(tmp_path / "out.csv")
    assert rows[0] == ["Phone", "Name", "Member ID", *ADDED_COLUMNS]
    assert len(rows) == 1 + 6 and summary.rows == 6
    # the input's own cells, untouched and in order
    assert [r[:3] for r in rows[1:]] == [
        [validation.table.columns[j][i] for j in range(3)] for i in range(6)
    ]
    got = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [g["row_number"] for g in got] == ["2", "3", "4", "5", "6", "7"]
    assert [g["upload_status"] for g in got] == [
        "accepted",
        "refused",
        "rejected",
        "failed",
        "blank",
        "pending",
    ]
    assert got[0]["request_status"] == "COMPLETED"
    assert got[0]["attempt_count"] == "2" and got[0]["session_id"] == "101"
    assert got[0]["conversation_id"] == "202" and got[0]["insights_status"] == "PROCESSING"
    assert got[0]["target_e164"] == "+15125551234" and got[0]["batch_id"] == "b-001"
    assert got[1]["upload_error"] == "Phone: 'not a phone' is no number; Name: too long"
    assert got[2]["upload_error"] == "409: already in the batch"
    assert got[3]["upload_error"] == "gave up after 8 attempts (503)"
    assert got[3]["batch_id"] == "b-002" and got[3]["request_status"] == ""
    assert got[4]["upload_error"] == "" and got[4]["batch_id"] == ""
    assert summary.by_upload_status == {
        "accepted": 1,
        "refused": 1,
        "rejected": 1,
        "failed": 1,
        "blank": 1,
        "pending": 1,
    }
    assert summary.by_request_status == {"COMPLETED": 1}
    assert summary.by_batch == {"b-001": 2, "b-002": 1}
    text = render_summary(summary)
    assert "accepted" in text and "b-002" in text and "gave up after 8 attempts" in text


def test_validate_only_report_keeps_the_layout(tmp_path: Path, mixed: tuple) -> None:
    validation, _, _ = mixed
    write_report(tmp_path / "v.csv", validation)
    rows = read_csv(tmp_path / "v.csv")
    assert rows[0][3:] == list(ADDED_COLUMNS)
    statuses = [r[4] for r in rows[1:]]
    assert statuses == ["valid", "refused", "valid", "valid", "blank", "valid"]
    assert all(r[8:] == [""] * 7 for r in rows[1:])  # no server columns filled


def test_server_verdict_wins(tmp_path: Path, mixed: tuple) -> None:
    """Server INVALID/DUPLICATE => rejected; a 'failed' row the server holds => accepted."""
    validation, outcomes, results = mixed
    results = dict(results)
    results[("b-001", "m1")] = {**results[("b-001", "m1")], "request_status": "DUPLICATE"}
    results[("b-002", "m4")] = {"reference_id": "m4", "request_status": "PENDING"}
    summary = write_report(tmp_path / "out.csv", validation, outcomes, results)
    rows = read_csv(tmp_path / "out.csv")
    assert rows[1][4] == "rejected" and "DUPLICATE" in rows[1][5]
    assert rows[4][4] == "accepted" and rows[4][5] == "" and rows[4][8] == "PENDING"
    assert summary.by_upload_status["rejected"] == 2


def test_results_without_outcomes_match_by_reference_id(tmp_path: Path, mixed: tuple) -> None:
    validation, _, results = mixed
    write_report(tmp_path / "out.csv", validation, None, results)
    rows = read_csv(tmp_path / "out.csv")
    assert rows[1][4] == "accepted" and rows[1][6] == "b-001" and rows[1][8] == "COMPLETED"
    assert rows[2][4] == "refused" and rows[3][4] == "valid"


def test_xlsx_features(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    out = tmp_path / "out.xlsx"
    settings_ = {"campaign_id": 7, "api_key": "sk-very-secret-123", "key": ApiKey("k" * 20)}
    write_report(out, validation, outcomes, results, settings=settings_)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Report", "Summary"]
    ws = wb["Report"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(15)}7"
    assert all(c.font.b for c in ws[1])
    assert ws.column_dimensions["A"].width >= 8
    status_fills = {ws.cell(r, 5).value: ws.cell(r, 5).fill.fgColor.rgb for r in range(2, 8)}
    assert len(set(status_fills.values())) >= 4  # accepted/refused/failed/blank/pending differ
    assert status_fills["accepted"] != status_fills["refused"]
    for r in range(2, 8):  # the whole row, empty cells included, carries its status colour
        colours = {ws.cell(r, c).fill.fgColor.rgb for c in range(1, 16)}
        assert colours == {status_fills[ws.cell(r, 5).value]}
    assert ws.cell(2, 4).value == 2 and ws.cell(2, 4).data_type == "n"  # row_number is a number
    assert ws.cell(2, 1).value == "512-555-1234"
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["accepted"] == 1 and summary["b-002"] == 1 and summary["COMPLETED"] == 1
    assert summary["campaign_id"] == 7
    raw = b"".join(zipfile.ZipFile(out).read(n) for n in zipfile.ZipFile(out).namelist())
    assert b"sk-very-secret" not in raw and b"kkkkkkkk" not in raw


def test_ods_round_trip(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    out = tmp_path / "out.ods"
    write_report(out, validation, outcomes, results)
    assert (
        zipfile.ZipFile(out).read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    )
    frames = pd.read_excel(out, engine="odf", sheet_name=None, dtype=str, keep_default_na=False)
    assert list(frames) == ["Report", "Summary"]
    report = frames["Report"]
    assert list(report.columns) == ["Phone", "Name", "Member ID", *ADDED_COLUMNS]
    assert report["upload_status"].tolist()[:5] == [
        "accepted",
        "refused",
        "rejected",
        "failed",
        "blank",
    ]
    assert report["Phone"].tolist()[0] == "512-555-1234"


def test_tsv(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    write_report(tmp_path / "out.tsv", validation, outcomes, results)
    rows = read_csv(tmp_path / "out.tsv", delimiter="\t")
    assert rows[0][:3] == ["Phone", "Name", "Member ID"] and len(rows) == 7


# ------------------------------------------------------------------------ formula safety


def test_formula_bait_is_inert_in_xlsx(tmp_path: Path, make_validation: MakeValidation) -> None:
    rows = [[bait, phone] for bait, phone in zip(BAIT, PLAIN_NUMBERS * 2, strict=False)]
    validation = make_validation(["=cmd|' /C calc'!A0", "Phone"], rows)
    outcomes = {
        2 + i: RowOutcome(2 + i, RowStatus.REJECTED, error=bait, batch_id="@b")
        for i, bait in enumerate(BAIT)
    }
    out = tmp_path / "bait.xlsx"
    write_report(out, validation, outcomes, settings={"note": "=1+1"})
    wb = openpyxl.load_workbook(out)
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    values = read_xlsx(out)
    assert values[0][0] == "=cmd|' /C calc'!A0"
    assert [r[0] for r in values[1:]] == BAIT  # exactly as typed, but as text
    assert [r[1] for r in values[1:]] == [p for _, p in zip(BAIT, PLAIN_NUMBERS * 2, strict=False)]
    assert b"<f>" not in zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")


def test_formula_bait_is_neutralised_in_csv(
    tmp_path: Path, make_validation: MakeValidation
) -> None:
    rows = [[bait, phone] for bait, phone in zip(BAIT, PLAIN_NUMBERS * 2, strict=False)]
    validation = make_validation(["@header", "Phone"], rows)
    write_report(tmp_path / "bait.csv", validation)
    got = read_csv(tmp_path / "bait.csv")
    assert got[0][0] == "'@header"
    assert [r[0] for r in got[1:]] == ["'" + b for b in BAIT]
    assert [r[1] for r in got[1:]] == [p for _, p in zip(BAIT, PLAIN_NUMBERS * 2, strict=False)]


@given(st.text())
def test_neutralised_csv_values_never_start_a_formula(value: str) -> None:
    safe = neutralise_csv_value(value)
    assert safe in (value, "'" + value)
    if safe:
        first = safe[0]
        assert first not in "=@\t\r\n", safe
        if first in "+-":
            float(safe)  # only a plain signed number may start with a sign


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=40), min_size=1))
def test_any_text_round_trips_through_xlsx(
    tmp_path: Path, make_validation: MakeValidation, values: list[str]
) -> None:
    validation = make_validation(["v"], [[v] for v in values])
    out = tmp_path / "any.xlsx"
    write_report(out, validation)
    got = read_xlsx(out)
    assert [as_text(r[0]) for r in got[1:]] == values
    assert len(got) == len(values) + 1


# ------------------------------------------------------------------------ awkward inputs


def test_colliding_column_names(tmp_path: Path, make_validation: MakeValidation) -> None:
    headers = ["upload_status", "Batch_ID ", "upload_status (uploader)", "row_number"]
    names = added_column_names(headers)
    assert names[1] == "upload_status (uploader 2)"
    assert names[3] == "batch_id (uploader)"
    assert names[0] == "row_number (uploader)"
    assert len(set(names) | set(headers)) == len(names) + len(headers)
    validation = make_validation(headers, [["mine", "b", "c", "7"]])
    write_report(tmp_path / "c.xlsx", validation)
    got = read_xlsx(tmp_path / "c.xlsx")
    assert got[0] == headers + names
    assert got[1][:4] == ["mine", "b", "c", "7"]  # the user's own values, not overwritten
    assert got[1][4] == 2.0 and got[1][5] == "valid"


def test_unicode_and_long_cells(tmp_path: Path, make_validation: MakeValidation) -> None:
    headers = ["Téléphone", "名前", "Emoji 🎉", "Notes"]
    long = "ä" * 10_000
    rows = [["+33 1 23 45 67 89", "山田", "🙂 ok", long], ["", "", "", ""]]
    validation = make_validation(headers, rows)
    for ext in ("csv", "xlsx", "ods"):
        out = tmp_path / f"u.{ext}"
        write_report(out, validation)
        if ext == "csv":
            got: list[list[Any]] = read_csv(out)
        elif ext == "xlsx":
            got = read_xlsx(out)
        else:
            frame = pd.read_excel(out, engine="odf", dtype=str, keep_default_na=False)
            got = [list(frame.columns), *frame.values.tolist()]
        assert got[0][:4] == headers, ext
        if ext == "csv":  # Excel would compute "+33 1 23..." (space = intersection): neutralised
            assert got[1][:4] == ["'" + rows[0][0], *rows[0][1:]]
        else:
            assert got[1][:4] == rows[0], ext
        assert len(got) == 3, ext
        assert as_text(got[2][len(headers) + 1]) == "blank", ext


def test_cell_beyond_excel_limit_is_truncated(
    tmp_path: Path, make_validation: MakeValidation
) -> None:
    validation = make_validation(["Notes"], [["x" * 40_000]])
    write_report(tmp_path / "big.xlsx", validation)
    assert read_xlsx(tmp_path / "big.xlsx")[1][0] == "x" * 32_767


@pytest.mark.parametrize("ext", ["csv", "tsv", "xlsx", "ods"])
def test_header_only_file(tmp_path: Path, make_validation: MakeValidation, ext: str) -> None:
    validation = make_validation(["Phone", "Name"], [])
    out = tmp_path / f"empty.{ext}"
    summary = write_report(out, validation)
    assert summary.rows == 0 and summary.by_upload_status == {}
    if ext in ("csv", "tsv"):
        assert read_csv(out, "," if ext == "csv" else "\t") == [["Phone", "Name", *ADDED_COLUMNS]]
    elif ext == "xlsx":
        assert read_xlsx(out) == [["Phone", "Name", *ADDED_COLUMNS]]
        assert openpyxl.load_workbook(out).sheetnames == ["Report", "Summary"]
    else:
        frame = pd.read_excel(out, engine="odf", dtype=str)
        assert list(frame.columns) == ["Phone", "Name", *ADDED_COLUMNS] and len(frame) == 0


def test_no_header_at_all(tmp_path: Path, make_validation: MakeValidation) -> None:
    validation = make_validation([], [])
    write_report(tmp_path / "none.xlsx", validation)
    assert read_xlsx(tmp_path / "none.xlsx") == [list(ADDED_COLUMNS)]


# ------------------------------------------------------------------------ format choice


def test_format_choice() -> None:
    assert report_format_for(Path("r.xlsx"), "csv") == "xlsx"
    assert report_format_for(Path("r.CSV"), "xlsx") == "csv"
    assert report_format_for(Path("r"), "xlsm") == "xlsx"
    assert report_format_for(Path("r"), "ods") == "ods"
    assert report_format_for(Path("r.out"), "csv", "tsv") == "tsv"
    with pytest.raises(ConfigError, match=r"\.xlsx"):
        report_format_for(Path("r.xls"), "csv")
    with pytest.raises(ConfigError, match="unknown report extension"):
        report_format_for(Path("r.pdf"), "csv")


def test_written_atomically(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    out = tmp_path / "sub" / "out.xlsx"
    write_report(out, validation, outcomes, results)
    write_report(out, validation, outcomes, results)  # replaced in place, no leftovers
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.xlsx"]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"])), min_size=1, max_size=8))
def test_any_text_round_trips_through_csv(
    tmp_path: Path, make_validation: MakeValidation, values: list[str]
) -> None:
    """Every cell comes back as typed, or as typed behind one neutralising quote."""
    validation = make_validation(["v"], [[v] for v in values])
    out = tmp_path / "any.csv"
    write_report(out, validation)
    got = [r[0] for r in read_csv(out)[1:]]
    assert len(got) == len(values)
    for written, value in zip(got, values, strict=True):
        assert written == neutralise_csv_value(value)


def test_formula_bait_is_inert_in_ods(tmp_path: Path, make_validation: MakeValidation) -> None:
    validation = make_validation(["Notes"], [[b] for b in BAIT])
    out = tmp_path / "bait.ods"
    write_report(out, validation, settings={"note": "=1+1"})
    content = zipfile.ZipFile(out).read("content.xml").decode()
    assert "table:formula" not in content
    frame = pd.read_excel(out, engine="odf", dtype=str, keep_default_na=False)
    assert frame["Notes"].tolist()[:3] == BAIT[:3]


def test_errors_read_well_and_count_by_kind(
    tmp_path: Path, make_validation: MakeValidation
) -> None:
    issues = [
        RowIssue("invalid_target", 2, "Phone", "x", "Row 2: 'x' in column 'Phone' is no number"),
        RowIssue("invalid_target", 3, "Phone", "y", "Row 3: 'y' in column 'Phone' is no number"),
        RowIssue("missing_variable", 3, "Name", "", "Row 3: Name is empty"),
    ]
    validation = make_validation(
        ["Phone", "Name"], [["x", "a"], ["y", ""]], statuses=["refused", "refused"], issues=issues
    )
    # the engine quotes the validator's words in its own error: they must not appear twice
    outcomes = {3: RowOutcome(3, RowStatus.REFUSED, "Row 3: 'y' in column 'Phone' is no number")}
    summary = write_report(tmp_path / "e.csv", validation, outcomes)
    rows = read_csv(tmp_path / "e.csv")
    assert rows[1][4] == "'x' in column 'Phone' is no number"
    assert rows[2][4] == "Name is empty; 'y' in column 'Phone' is no number"
    assert dict(summary.top_errors)["invalid_target"] == 2


def test_too_many_rows_for_a_sheet(tmp_path: Path) -> None:
    from uploader.models import ColumnMapping, Table

    table = Table(Path("big.csv"), "csv", None, [], [], range(2, 1_048_578))
    validation = ValidationResult(table, ColumnMapping(None, "", ()), [], [], [], [], [])
    with pytest.raises(ConfigError, match=r"write the report as \.csv"):
        write_report(tmp_path / "big.xlsx", validation)
    assert list(tmp_path.iterdir()) == []


def test_never_overwrites_the_input_and_says_why(
    tmp_path: Path, make_validation: MakeValidation
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("Phone\n1\n", encoding="utf-8")
    validation = make_validation(["Phone"], [["1"]], path=source)
    with pytest.raises(ConfigError, match="overwrite the input"):
        write_report(source, validation)
    assert source.read_text(encoding="utf-8") == "Phone\n1\n"
    with pytest.raises(ConfigError, match="is a folder"):
        write_report(tmp_path, validation)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the report"):
        write_report(blocker / "sub" / "r.csv", validation)


def test_xml_edge_cases_round_trip(tmp_path: Path, make_validation: MakeValidation) -> None:
    values = ["_x0041_", "a\x01b", "line\r\nbreak", " lead", "trail ", "a & <b>", "\u00a0nbsp"]
    validation = make_validation(["v"], [[v] for v in values])
    write_report(tmp_path / "x.xlsx", validation)
    assert [r[0] for r in read_xlsx(tmp_path / "x.xlsx")[1:]] == values


def test_plain_zip_unless_the_sheet_may_pass_2_gib(tmp_path: Path, mixed: tuple) -> None:
    """ZIP64 headers only when needed: plain zip is what every spreadsheet reader opens."""
    from uploader.sheetwriter import needs_zip64

    validation, outcomes, results = mixed
    for ext in ("xlsx", "ods"):
        write_report(tmp_path / f"r.{ext}", validation, outcomes, results)
        assert {i.extract_version for i in zipfile.ZipFile(tmp_path / f"r.{ext}").infolist()} == {
            20
        }
    sample = [["x" * 20] * 6 + [""] * 12]
    assert not needs_zip64(1_048_575, 18, sample)
    assert needs_zip64(1_000_000, 18, [["x" * 2_000] * 6 + [""] * 12])


def test_results_no_row_claims_are_counted(tmp_path: Path, mixed: tuple) -> None:
    validation, outcomes, results = mixed
    extra = {("b-001", "stranger"): {"reference_id": "stranger", "request_status": "PENDING"}}
    summary = write_report(tmp_path / "u.xlsx", validation, outcomes, {**results, **extra})
    assert summary.unmatched_results == 1 and summary.to_dict()["unmatched_results"] == 1
    assert "matching no row" in render_summary(summary)
    sheet = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "u.xlsx")["Summary"].values}
    assert sheet["Server requests matching no row"] == 1


@given(
    st.lists(
        st.sampled_from([*ADDED_COLUMNS, "Upload_Status ", "batch_id (uploader)", "x", ""])
        | st.text(max_size=12),
        max_size=12,
    )
)
def test_added_names_never_collide(headers: list[str]) -> None:
    names = added_column_names(headers)
    taken = [h.strip().casefold() for h in headers]
    assert len(names) == len(ADDED_COLUMNS)
    assert not {n.strip().casefold() for n in names} & set(taken)
    assert len({n.casefold() for n in names}) == len(names)
    for base, name in zip(ADDED_COLUMNS, names, strict=True):
        assert name == base or name.startswith(base + " (uploader")


def test_ragged_columns_never_drop_rows(tmp_path: Path) -> None:
    from uploader.models import ColumnMapping, Table

    table = Table(Path("r.csv"), "csv", None, ["a", "b"], [["1", "2", "3"], ["x"]], [2, 3, 4])
    validation = ValidationResult(
        table, ColumnMapping(None, "a", ()), [], [], ["valid"] * 3, [""] * 3, [""] * 3
    )
    write_report(tmp_path / "r.csv", validation)
    rows = read_csv(tmp_path / "r.csv")
    assert [r[:3] for r in rows[1:]] == [["1", "x", "2"], ["2", "", "3"], ["3", "", "4"]]
