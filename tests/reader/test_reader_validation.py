"""validate(): every problem of every row as data, blank rows counted, ids checked and made."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from uploader import validate
from uploader.config import ReadOptions
from uploader.errors import ConfigError, InputError
from uploader.models import RowStatus, Table
from uploader.reader import read_table


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "messy.csv",
        [
            ["ID", "Phone", "First Name", "Notes"],
            ["a1", "(512) 555-1234", "Ann", "ok"],  # row 2 valid
            ["", "12", "", "x" * 30],  # row 3: three problems
            ["", "", "", ""],  # row 4 blank
            ["a1", "+44 20 7946 0958", "Bob", ""],  # row 5 repeats a1 of row 2
            ["a3", "512-555-1234", "Cy", ""],  # row 6 same number as row 2
            ["a4", "", "Di", ""],  # row 7 no number
        ],
    )


def test_every_problem_of_a_row_is_collected(messy: Path) -> None:
    result = validate(messy, ReadOptions(max_value_length=20, require_vars=("First Name",)))
    assert result.statuses == ["valid", "refused", "blank", "refused", "valid", "refused"]
    by_row = result.issues_by_row()
    assert [i.code for i in by_row[3]] == [
        "invalid_target",
        "missing_reference_id",
        "value_too_long",
        "missing_variable",
    ]
    invalid = by_row[3][0]
    assert (invalid.column, invalid.value) == ("Phone", "12")
    assert "Row 3" in invalid.message and "'12'" in invalid.message
    assert "Phone" in invalid.message
    dup = by_row[5][0]
    assert dup.code == "duplicate_reference_id" and "row 2" in dup.message
    assert by_row[7][0].code == "missing_target"
    assert 4 not in by_row  # blank rows are never problems
    assert result.blank_count == 1 and result.refused_count == 3 and result.valid_count == 2
    assert list(result.targets_e164) == [
        "+15125551234",
        "",
        "",
        "+442079460958",
        "+15125551234",
        "",
    ]


def test_records_carry_e164_ids_and_verbatim_variables(messy: Path) -> None:
    result = validate(messy, ReadOptions())
    first = result.records[0]
    assert first.row_number == 2
    assert first.request.target == "+15125551234"
    assert first.request.reference_id == "a1"
    assert first.request.request_variables == {"First Name": "Ann", "Notes": "ok"}
    assert [r.row_number for r in result.records] == [2, 6]
    assert [r.row_number for r in result.records[0:2]] == [2, 6]


def test_dedupe_targets_points_at_the_first_row(messy: Path) -> None:
    result = validate(messy, ReadOptions(dedupe_targets=True))
    issue = [i for i in result.issues if i.code == "duplicate_target"]
    assert len(issue) == 1 and issue[0].row_number == 6 and "row 2" in issue[0].message
    assert result.statuses[4] == RowStatus.REFUSED


def test_region_changes_national_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "gb.csv", [["id", "phone"], ["1", "020 7946 0958"]])
    assert list(validate(path, ReadOptions(region="GB")).targets_e164) == ["+442079460958"]
    assert validate(path, ReadOptions(region="US")).statuses == ["refused"]


def test_scientific_notation_text_gets_a_fix_it_hint(tmp_path: Path) -> None:
    path = _write(tmp_path / "sci.csv", [["id", "phone"], ["1", "5.13E+09"]])
    issue = validate(path, ReadOptions()).issues[0]
    assert issue.code == "invalid_target" and "scientific notation" in issue.message


def test_values_without_a_header_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("ID,Phone\n1,5125551234,stray\n", encoding="utf-8")
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("uploader")
    logger.addHandler(handler)
    try:
        result = validate(path, ReadOptions())
    finally:
        logger.removeHandler(handler)
    assert result.valid_count == 1
    assert result.records[0].request.request_variables == {}
    assert any("column C has values but no header" in m for m in seen)


def test_unknown_region_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", [["id", "phone"], ["1", "5125551234"]])
    with pytest.raises(ConfigError, match="'UK' is not a region code"):
        validate(path, ReadOptions(region="UK"))
    assert validate(path, ReadOptions(region="us")).statuses == ["valid"]


def test_generated_reference_ids_are_stable_and_unique(tmp_path: Path) -> None:
    rows = [["Phone", "Name"], ["5125551234", "Ann"], ["5125551234", "Ann"], ["4155550100", "B"]]
    one = validate(_write(tmp_path / "a.csv", rows), ReadOptions(generate_reference_ids=True))
    two = validate(_write(tmp_path / "b.csv", rows), ReadOptions(generate_reference_ids=True))
    ids = list(one.reference_ids)
    assert ids == list(two.reference_ids)
    assert len(set(ids)) == 3 and ids[1] == ids[0] + "-2"
    assert one.mapping.generated_reference_ids and one.refused_count == 0
    changed = validate(
        _write(tmp_path / "c.csv", [*rows[:3], ["4155550100", "C"]]),
        ReadOptions(generate_reference_ids=True),
    )
    assert list(changed.reference_ids)[:2] == ids[:2] and list(changed.reference_ids)[2] != ids[2]


def test_generate_fills_empty_ids_when_the_column_exists(tmp_path: Path) -> None:
    path = _write(tmp_path / "ids.csv", [["ID", "Phone"], ["x", "5125551234"], ["", "5125551235"]])
    result = validate(path, ReadOptions(generate_reference_ids=True))
    refs = list(result.reference_ids)
    assert refs[0] == "x" and refs[1].startswith("row-")
    assert result.refused_count == 0


def test_no_data_rows_and_missing_required_header(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.csv", [["ID", "Phone"], ["", ""]])
    with pytest.raises(InputError, match="no data rows"):
        validate(empty, ReadOptions())
    only_header = _write(tmp_path / "header.csv", [["ID", "Phone"]])
    with pytest.raises(InputError, match="no data rows"):
        validate(only_header, ReadOptions())
    path = _write(tmp_path / "vars.csv", [["ID", "Phone", "first_name"], ["1", "5125551234", "A"]])
    with pytest.raises(ConfigError, match=r"'First Name' .*closest header: 'first_name'"):
        validate(path, ReadOptions(require_vars=("First Name",)))


def test_accepts_a_table_and_reports_progress(messy: Path) -> None:
    table = read_table(messy, ReadOptions())
    seen: list[tuple[str, int, int | None]] = []
    result = validate(table, ReadOptions(), progress=lambda s, d, t: seen.append((s, d, t)))
    assert result.table is table
    assert [s for s, _, _ in seen] == ["read", "validate"]
    plain = Table(
        path=Path("mem.csv"),
        format="csv",
        sheet=None,
        headers=["id", "phone"],
        columns=[["1", "2"], ["5125551234", "nope"]],
        row_numbers=[2, 3],
    )
    assert validate(plain, ReadOptions()).statuses == ["valid", "refused"]


def test_summary_counts(messy: Path) -> None:
    summary = validate(messy, ReadOptions()).summary()
    assert summary["rows_read"] == 6
    assert summary["blank_skipped"] == 1
    assert summary["problems"] == {
        "invalid_target": 1,
        "missing_reference_id": 1,
        "duplicate_reference_id": 1,
        "missing_target": 1,
    }
