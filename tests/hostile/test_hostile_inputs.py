"""Files that try to break the reader, each with the exact answer we promise.

Every file gets either one ``error: ...`` line naming the file (and row and column where there is
one) with exit code 2, or a completed validation whose refused rows say why (exit 1), or a clean
read (exit 0) when the file is odd but honest. Never a traceback. The bombs run in a child process
whose peak memory is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hostile_files import HOSTILE, make

from uploader.cli import main
from uploader.config import ReadOptions
from uploader.errors import InputError
from uploader.reader import read_table

#: Exit 2 with exactly this last stderr line ("{p}" is the file's path).
FATAL: dict[str, str] = {
    "empty": "error: {p}: has no header on row 1 (use --header-row if the header is lower down)",
    "bom_only": "error: {p}: has no header on row 1 (use --header-row if the header is lower down)",
    "blank_header": (
        "error: {p}: has no header on row 1 (use --header-row if the header is lower down)"
    ),
    "header_only": "error: {p}: has no data rows below the header (row 1)",
    "blank_rows_only": "error: {p}: has no data rows below the header (row 1)",
    "random_bytes_xlsx": "error: {p}: cannot be read as a workbook: File is not a zip file",
    "truncated_xlsx": "error: {p}: cannot be read as a workbook: File is not a zip file",
    "zip_not_xlsx": (
        'error: {p}: cannot be read as a workbook: "There is no item named '
        "'[Content_Types].xml' in the archive\""
    ),
    "lying_zip_bomb": (
        "error: {p}: part xl/worksheets/sheet1.xml is damaged (Bad CRC-32 for file "
        "'xl/worksheets/sheet1.xml'); save the workbook again"
    ),
    "entity_bomb": (
        "error: {p}: part xl/sharedStrings.xml declares an XML DOCTYPE or ENTITY (an entity "
        "bomb or external entity); spreadsheets never need one, so the file is refused"
    ),
    "external_entity": (
        "error: {p}: part xl/worksheets/sheet1.xml declares an XML DOCTYPE or ENTITY (an "
        "entity bomb or external entity); spreadsheets never need one, so the file is refused"
    ),
    "ods_entity_bomb": (
        "error: {p}: part content.xml declares an XML DOCTYPE or ENTITY (an entity bomb or "
        "external entity); spreadsheets never need one, so the file is refused"
    ),
    "password_xlsx": (
        "error: {p}: is password-protected (encrypted); open it in Excel, remove the password "
        "(File > Info > Protect Workbook) and save it again"
    ),
    "images_only": "error: {p}: has no sheet with any data",
    "empty_workbook": "error: {p}: has no sheet with any data",
    "binary_garbage_csv": (
        "error: {p}: looks binary (10% control bytes in its first 4 KiB), not like CSV text; "
        "is it really a CSV?"
    ),
    "mixed_encodings": (
        "error: {p}, row 3: mixes text encodings: line 2 is UTF-8 but line 3 is not "
        "(byte 0xEB); save the whole file again as UTF-8, or pass --encoding"
    ),
    "mixed_encodings_late": (
        "error: {p}, row 60002: mixes text encodings: line 2 is UTF-8 but line 60002 is not "
        "(byte 0xEB); save the whole file again as UTF-8, or pass --encoding"
    ),
    "undecidable_delimiter": (
        "error: {p}: no reference-id column found (looked for headers like reference_id, ID, Ref, "
        "External ID); the headers are: 'phone', 'id,name', 'x'. Name it with "
        "--map reference_id=COLUMN, or use --generate-reference-ids"
    ),
    "big_cell": (
        "error: {p}, row 2, column 'first_name': holds a cell of 52,428,800 bytes (rows over "
        "8.0 MiB are refused; a contact field is never this long)"
    ),
    "many_columns": "error: {p}: has 20,000 columns; at most 16,384 are read (Excel's own limit)",
    "duplicate_headers": (
        "error: {p}, row 1, column 'name': the header 'name' appears twice (columns C and D); "
        "rename one "
        "of them, or leave both out with --exclude"
    ),
    "xls_named_csv": "error: {p}: is an Excel 97-2003 workbook, not CSV text; rename it to .xls",
    "xlsx_named_csv": (
        "error: {p}: is a zipped workbook (xlsx or ods), not CSV text; rename it to .xlsx (or .ods)"
    ),
    "csv_named_xlsx": "error: {p}: is plain text, not an xlsx workbook; rename it to .csv",
    "missing": "error: {p}: does not exist",
    "symlink_loop": "error: {p}: does not exist",
    "fifo": (
        "error: {p}: is not a regular file (a pipe, device or socket); save the data to a "
        "file first"
    ),
    "device_link": (
        "error: {p}: is not a regular file (a pipe, device or socket); save the data to a "
        "file first"
    ),
    "directory": "Error: Invalid value for 'FILE': File '{p}' is a directory.",
    "unbalanced_quote": (
        'error: {p}, row 2: has a quote (") that is never closed, so every line after it '
        "would be read as one cell; close or remove the quote"
    ),
    "json_named_csv": (
        "error: {p}: no phone-number column found (looked for headers like Phone, Mobile, Phone "
        'Number, Target); the headers are: \'{{"contacts": [{{"phone": "+1512•••0101"}}]}}\''
        ". Name the column with --map target=COLUMN"
    ),
    "no_phone_column": (
        "error: {p}: no phone-number column found (looked for headers like Phone, Mobile, Phone "
        "Number, Target); the headers are: 'name', 'email'. Name the column with "
        "--map target=COLUMN"
    ),
}

#: Files that validate (exit 0 or 1): the JSON summary fields and the exact problem messages.
READ: dict[str, tuple[int, dict[str, Any], list[str]]] = {
    "csv_nul_bytes": (0, {"rows_read": 2, "valid": 2, "refused": 0}, []),
    "csv_nul_late": (0, {"rows_read": 201, "valid": 201, "refused": 0}, []),
    "hidden_sheet": (0, {"sheet": "Contacts", "rows_read": 2, "valid": 2, "refused": 0}, []),
    "merged_cells": (
        1,
        {"rows_read": 2, "valid": 1, "refused": 1},
        ["Row 3: the phone number in column 'phone' is empty."],
    ),
    "formulas_no_cache": (
        1,
        {"rows_read": 2, "valid": 0, "refused": 2},
        [
            "Row 2: the phone number in column 'phone' is empty.",
            "Row 3: the phone number in column 'phone' is empty.",
        ],
    ),
    "long_header": (0, {"rows_read": 1, "valid": 1, "refused": 0}, []),
    "utf16_no_bom": (0, {"rows_read": 2, "valid": 2, "refused": 0}, []),
    "cr_only": (0, {"rows_read": 2, "valid": 2, "refused": 0}, []),
}

SLOW = {"zip_bomb", "million_rows"}


def test_every_hostile_file_has_a_pinned_outcome() -> None:
    assert len(HOSTILE) >= 30
    assert set(HOSTILE) == set(FATAL) | set(READ) | SLOW


def _validate(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["validate", str(path), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("name", sorted(FATAL))
def test_unreadable_file_gets_one_exact_line_and_exit_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(name, tmp_path)
    code, out, err = _validate(path, capsys)
    assert code == 2
    assert out == ""
    assert err.rstrip("\n").splitlines()[-1] == FATAL[name].format(p=path)


@pytest.mark.parametrize("name", sorted(READ))
def test_odd_but_honest_file_reads_with_exact_verdicts(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected_code, fields, messages = READ[name]
    path = make(name, tmp_path)
    code, out, err = _validate(path, capsys, "--json")
    assert code == expected_code, err
    summary = json.loads(out)
    assert {k: summary[k] for k in fields} == fields
    found = [e["message"] for examples in summary["examples"].values() for e in examples]
    assert found == messages


@pytest.mark.parametrize(("name", "cell"), [("csv_nul_bytes", "Ann"), ("csv_nul_late", "badname")])
def test_stray_nul_bytes_are_stripped_from_the_cell(name: str, cell: str, tmp_path: Path) -> None:
    table = read_table(make(name, tmp_path), ReadOptions())
    assert cell in list(table.columns[2])
    assert not any("\x00" in v for v in table.columns[2])


def test_cr_only_line_endings_read_every_field(tmp_path: Path) -> None:
    table = read_table(make("cr_only", tmp_path), ReadOptions())
    assert [list(c) for c in table.columns] == [
        ["+15125550101", "+15125550102"],
        ["r1", "r2"],
        ["Ann", "Bob"],
    ]


def test_folder_is_refused_by_the_library_too(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a folder, not a file$"):
        read_table(make("directory", tmp_path), ReadOptions())


def test_hidden_sheet_still_readable_by_name(tmp_path: Path) -> None:
    table = read_table(make("hidden_sheet", tmp_path), ReadOptions(sheet="Lookup"))
    assert table.sheet == "Lookup"
    assert list(table.columns[1]) == ["hidden-1"]


def test_giant_cell_is_refused_when_it_is_not_the_first_big_line(tmp_path: Path) -> None:
    path = tmp_path / "late_big.csv"
    with path.open("wb") as f:
        f.write(b"phone;reference_id;note\n")
        for i in range(1000):
            f.write(f"+1512555{i:04d};r{i};n\n".encode())
        f.write(b"+15125559999;" + b"7" * (9 * 1024 * 1024) + b";n\n")
    with pytest.raises(InputError) as info:
        read_table(path, ReadOptions())
    assert (info.value.row, info.value.column) == (1002, "reference_id")


def test_formulas_without_saved_results_are_named_in_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cells read as empty (the reader's documented choice); the warning says why."""
    path = make("formulas_no_cache", tmp_path)
    code, _out, err = _validate(path, capsys)
    assert code == 1
    assert (
        f"WARNING {path}: cell A2 of xl/worksheets/sheet1.xml holds a formula with no saved "
        "result (the file was written by a program, never opened in a spreadsheet app), so it "
        "reads as empty; open and save the file in Excel or LibreOffice to store the results"
    ) in err.splitlines()


def test_formulas_with_saved_results_read_as_their_values(tmp_path: Path) -> None:
    """xlsxwriter stores a result with each formula (as Excel does): those files read fine."""
    import xlsxwriter

    path = tmp_path / "cached.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["phone", "reference_id", "greeting"])
    ws.write_formula(1, 0, '="+1512555"&"0101"', None, "+15125550101")
    ws.write(1, 1, "r1")
    ws.write_formula(1, 2, '=""', None, "")
    wb.close()
    table = read_table(path, ReadOptions())
    assert [list(c) for c in table.columns] == [["+15125550101"], ["r1"], [""]]


def test_literal_quote_inside_an_unquoted_field_is_not_an_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "inches.csv"
    path.write_text('phone,reference_id,item\n+15125550101,r1,12" pizza\n', encoding="utf-8")
    table = read_table(path, ReadOptions())
    assert list(table.columns[2]) == ['12" pizza']


def test_explicit_encoding_skips_the_mixed_encoding_check(tmp_path: Path) -> None:
    table = read_table(make("mixed_encodings", tmp_path), ReadOptions(encoding="latin-1"))
    assert list(table.columns[2]) == ["ZoÃ«", "Zoë"]


# ------------------------------------------------------------------------ bombs, in a child


def _peak_rss(*args: str) -> tuple[int, str, str, int]:
    """Run ``python -m uploader ...``: (exit code, stdout, stderr, the child's own peak RSS in MiB).

    ``wait4`` gives this child's rusage alone (RUSAGE_CHILDREN would include every earlier child).
    """
    with open(os.devnull, "rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uploader", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out = proc.stdout.read() if proc.stdout else b""
        err = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    return proc.returncode, out.decode(), err.decode(), usage.ru_maxrss // 1024


MEMORY_BOUND_MIB = 500


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["zip_bomb", "lying_zip_bomb", "entity_bomb", "ods_entity_bomb", "big_cell", "many_columns"],
)
def test_bombs_are_refused_in_bounded_memory(name: str, tmp_path: Path) -> None:
    path = make(name, tmp_path)
    code, _out, err, peak = _peak_rss("validate", str(path))
    assert code == 2
    assert "Traceback" not in err
    if name == "zip_bomb":
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("xl/worksheets/sheet1.xml")
        kib = info.compress_size / 1024
        ratio = info.file_size // info.compress_size
        expected = (
            f"error: {path}: part xl/worksheets/sheet1.xml inflates from {kib:,.1f} KiB to "
            f"1.0 GiB ({ratio:,}:1); refused as a possible zip bomb"
        )
    else:
        expected = FATAL[name].format(p=path)
    assert err.rstrip("\n").splitlines()[-1] == expected
    assert peak < MEMORY_BOUND_MIB, f"{name}: peak RSS {peak} MiB"


@pytest.mark.slow
def test_million_rows_with_one_bad_row_at_the_end(tmp_path: Path) -> None:
    path = make("million_rows", tmp_path)
    code, out, err, peak = _peak_rss("validate", str(path), "--json")
    assert code == 1, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert (summary["rows_read"], summary["valid"], summary["refused"]) == (1_000_001, 1_000_000, 1)
    assert summary["examples"] == {
        "invalid_target": [
            {
                "code": "invalid_target",
                "row_number": 1_000_002,
                "column": "phone",
                "value": "not-a-phone",
                "message": (
                    "Row 1000002: 'not-a-phone' in column 'phone' is not a valid phone number "
                    "(not a phone number; numbers without +country code are read as US)."
                ),
            }
        ]
    }
    assert peak < 1024, f"peak RSS {peak} MiB"


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\x0c", "\x1e"])
def test_unicode_line_separators_in_a_cell_do_not_fool_the_delimiter_sniffer(
    separator: str, tmp_path: Path
) -> None:
    """Found by fuzzing: str.splitlines() split the sample on NEL and friends, so '|' won."""
    path = tmp_path / "nel.csv"
    path.write_text(f"phone,reference_id,a,b\n+15125550101,r1,|{separator},\n", encoding="utf-8")
    table = read_table(path, ReadOptions())
    assert table.delimiter == ","
    assert table.headers == ["phone", "reference_id", "a", "b"]


def test_a_number_phonenumbers_calls_valid_but_longer_than_e164_is_refused(tmp_path: Path) -> None:
    """Found by fuzzing: '30000000000000' in DE formats as +49 and 14 digits, 16 in all."""
    from uploader.validation import validate

    path = tmp_path / "long_de.csv"
    path.write_text("phone,reference_id\n30000000000000,a\n030 1234567,b\n", encoding="utf-8")
    result = validate(path, ReadOptions(region="DE"))
    assert list(result.targets_e164) == ["", "+49301234567"]
    assert [issue.message for issue in result.issues] == [
        "Row 2: '30000000000000' in column 'phone' is not a valid phone number (more than the "
        "15 digits E.164 allows; numbers without +country code are read as DE)."
    ]
