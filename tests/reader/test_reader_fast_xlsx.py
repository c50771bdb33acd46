"""The fastexcel path for .xlsx gives the same table as the calamine path, cell for cell.

The fast path infers one type per column and formats numbers its own way; it must either give
exactly the calamine path's text or decline (return None) so that the calamine path reads the
file. Every test here compares both paths on real files written by openpyxl and xlsxwriter.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploader.config import ReadOptions
from uploader.models import Table
from uploader.reader import (
    _boolean_cells_among,
    _read_workbook_calamine,
    _read_xlsx_fast,
    read_table,
)


def _rows(table: Table) -> tuple[list[str], list[list[str]], list[int]]:
    return table.headers, [list(c) for c in table.columns], list(table.row_numbers)


def _both(path: Path, options: ReadOptions | None = None) -> tuple[Table | None, Table]:
    options = options or ReadOptions()
    return _read_xlsx_fast(path, "xlsx", options), _read_workbook_calamine(path, "xlsx", options)


def _write_openpyxl(path: Path, rows: list[list[Any]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _write_xlsxwriter(path: Path, rows: list[list[Any]]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Contacts")
    dates = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.datetime | dt.date):
                ws.write_datetime(r, c, value, dates)
            elif isinstance(value, bool):
                ws.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, value)
    wb.close()
    return path


def test_typical_contact_sheet_takes_the_fast_path_with_identical_text(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["reference_id", "Phone Number", "Name", "Balance", "Joined", "VIP"]]
    for i in range(300):
        phone: Any = 5125550000 + i if i % 3 else f"(512) 555-{i:04d}"
        rows.append(
            [
                f"C{i:05d}",
                float(phone) if isinstance(phone, int) else phone,
                f"Ana {i}",
                i * 1.25 + 2,
                dt.datetime(2024, 1, 1 + i % 28, i % 24, 0, 0),
                "yes" if i % 2 else None,
            ]
        )
    for writer in (_write_openpyxl, _write_xlsxwriter):
        path = writer(tmp_path / f"{writer.__name__}.xlsx", rows)
        fast, exact = _both(path)
        assert fast is not None, writer.__name__
        assert _rows(fast) == _rows(exact)
        assert list(fast.columns[1])[:3] == ["(512) 555-0000", "5125550001", "5125550002"]
        assert list(fast.columns[4])[:2] == ["2024-01-01", "2024-01-02T01:00:00"]
        assert list(fast.columns[5])[:2] == ["", "yes"]
        assert fast.row_numbers == range(2, 302)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        # a boolean among numbers reads as 1 in fastexcel, "true" here
        ("boolean_in_numbers", [["n"], [5.0], [True], [0.0]]),
        # a small non-whole number among text: fastexcel keeps 9 decimals, Excel shows 15 digits
        ("small_float_in_text", [["n"], ["a"], [1.0000000001], [0.1 + 0.2]]),
        ("tiny_float_in_text", [["n"], ["a"], [1e-10]]),
        ("zip_codes_mixed", [["zip"], ["02134"], [78701.0], ["78701"]]),
        # dates among text: fastexcel writes "2024-03-01 00:00:00"
        ("date_in_text", [["d"], ["soon"], [dt.datetime(2024, 3, 1)]]),
        ("time_of_day", [["t"], [dt.time(9, 30)], [dt.time(10, 0)]]),
        ("sub_second", [["t"], [dt.datetime(2024, 3, 1, 9, 30, 0, 600000)]]),
        ("repeated_header", [["Phone", "Phone"], ["1", "2"]]),
        ("numeric_header", [[2024.5, "x"], ["a", "b"]]),
        ("error_cell", [["a", "b"], ["=1/0", "x"]]),
        ("minus_zero", [["n"], ["a"], [-0.0]]),
        # "nan" is "missing" to fastexcel's inference, then parses as a number: NaN, read as ""
        ("nan_text_in_numbers", [["n"], [5.5], ["nan"], ["NaN"], [7.0]]),
        ("null_text_in_numbers", [["n"], [5.5], ["null"], ["N/A"], [7.0]]),
        ("only_header", [["a", "b"]]),
    ],
)
def test_fast_path_equals_or_declines(tmp_path: Path, name: str, rows: list[list[Any]]) -> None:
    for writer in (_write_openpyxl, _write_xlsxwriter):
        if name in ("error_cell", "time_of_day") and writer is _write_xlsxwriter:
            continue
        path = writer(tmp_path / f"{name}_{writer.__name__}.xlsx", rows)
        fast, exact = _both(path)
        if fast is not None:
            assert _rows(fast) == _rows(exact), (name, writer.__name__)
        assert _rows(read_table(path, ReadOptions())) == _rows(exact)


def test_sheet_not_starting_at_a1_keeps_its_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "offset.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B3"], ws["C3"] = "ref", "Phone"
    ws["B4"], ws["C4"] = "r1", 5125551234
    wb.save(path)
    fast, exact = _both(path, ReadOptions(header_row=3))
    assert fast is None  # calamine under fastexcel would number from B3
    table = read_table(path, ReadOptions(header_row=3))
    assert table.headers == ["", "ref", "Phone"]
    assert list(table.row_numbers) == [4]
    assert _rows(table) == _rows(exact)


def test_title_rows_hidden_sheet_and_sheet_by_name(tmp_path: Path) -> None:
    path = tmp_path / "books.xlsx"
    wb = openpyxl.Workbook()
    hidden = wb.active
    hidden.title = "Lookup"
    hidden.append(["code"])
    hidden.sheet_state = "hidden"
    ws = wb.create_sheet("Contacts")
    ws.append(["Campaign export"])
    ws.append([])
    ws.append(["ref", "Mobile", "Balance"])
    ws.append(["r1", 5125551234, 12.5])
    ws.append(["r2", "512-555-1235", 99999999.99])
    ws.append([None, None, None])
    wb.save(path)
    for options in (
        ReadOptions(header_row=3),
        ReadOptions(header_row=3, sheet="contacts"),
        ReadOptions(header_row=3, sheet=1),
    ):
        fast, exact = _both(path, options)
        assert fast is not None
        assert fast.sheet == exact.sheet == "Contacts"
        assert _rows(fast) == _rows(exact)
        assert fast.columns[1] == ["5125551234", "512-555-1235"]
        assert fast.columns[2] == ["12.5", "99999999.99"]


_text = st.one_of(
    st.sampled_from(["", " ", "NA", "N/A", "null", "0123", "+15125551234", "1.50", "true", "é"]),
    # text fastexcel's type inference treats as missing (and "nan" parses as a number)
    st.sampled_from(["nan", "NaN", "-nan", "None", "#N/A", "<NA>", "n/a", "inf", "1e5"]),
    # text shaped like what fastexcel makes of numbers and dates
    st.sampled_from(["0.3", "12.5", "-0", "0", "1", "1234567.123456789", "09:30", "2024-06-01"]),
    st.sampled_from(["2024-06-01 09:30:00", "2024-06-01T09:30:00", "99999999", "-7"]),
    st.decimals(-(10**9), 10**9, places=3, allow_nan=False).map(str),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.integers(-(10**12), 10**12).map(str),
)
_number = st.one_of(
    st.integers(-(10**15), 10**15).map(float),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
    st.sampled_from([0.0, 1.0, 0.1, 39.05, 5125551234.0, 1e-7, 123456789.123456789]),
)
_when = st.one_of(
    st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2099, 12, 31)).map(
        lambda d: dt.datetime(d.year, d.month, d.day)
    ),
)
_cell = st.one_of(st.none(), _text, _number, st.booleans(), _when)
_column_kind = st.sampled_from(["text", "number", "when", "bool", "mixed"])


@st.composite
def _sheets(draw: st.DrawFn) -> list[list[Any]]:
    width = draw(st.integers(1, 4))
    height = draw(st.integers(1, 12))
    kinds = [draw(_column_kind) for _ in range(width)]
    strategy = {"text": _text, "number": _number, "when": _when, "bool": st.booleans()}
    columns = []
    for kind in kinds:
        cell = _cell if kind == "mixed" else st.one_of(st.none(), strategy[kind])
        columns.append([draw(cell) for _ in range(height)])
    # The first header is text (A1 holds a value); the others may be anything a header cell is.
    odd_header = st.one_of(st.none(), st.booleans(), _number, st.sampled_from(["", " ", "h0"]))
    header = ["h0"] + [draw(st.one_of(st.just(f"h{j}"), odd_header)) for j in range(1, width)]
    return [header, *map(list, zip(*columns, strict=True))]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=_sheets(),
    writer=st.sampled_from([_write_xlsxwriter, _write_openpyxl]),
    titles=st.integers(0, 2),
)
def test_property_both_paths_agree(
    tmp_path: Path, rows: list[list[Any]], writer: Any, titles: int
) -> None:
    if titles:  # title rows above the header, as exports have
        rows = [["Campaign export"], *([None] for _ in range(titles - 1)), *rows]
    options = ReadOptions(header_row=titles + 1)
    path = writer(tmp_path / "prop.xlsx", rows)
    fast, exact = _both(path, options)
    if fast is not None:
        assert _rows(fast) == _rows(exact)
    assert _rows(read_table(path, options)) == _rows(exact)


def test_numbers_among_text_are_settled_by_reading_them_as_numbers(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["zip", "ref", "amount"],
        ["02134", "1001", "n/a"],
        [78701.0, "1002", 1.0000000001],
        ["78701", "1003", 0.1 + 0.2],
        ["10001", "1004", "12.5"],
    ]
    for writer in (_write_openpyxl, _write_xlsxwriter):
        path = writer(tmp_path / f"{writer.__name__}.xlsx", rows)
        fast, exact = _both(path)
        assert fast is not None
        assert _rows(fast) == _rows(exact)
        assert fast.columns[0] == ["02134", "78701", "78701", "10001"]
        assert fast.columns[1] == ["1001", "1002", "1003", "1004"]
        assert fast.columns[2] == ["n/a", "1.0000000001", "0.3", "12.5"]


def test_text_and_number_with_different_texts_is_left_to_calamine(tmp_path: Path) -> None:
    # As text it reads "1234567.123456789"; as a number Excel shows 15 digits.
    rows: list[list[Any]] = [["n"], ["1234567.123456789"], [1234567.123456789]]
    path = _write_openpyxl(tmp_path / "undecidable.xlsx", rows)
    fast, exact = _both(path)
    assert fast is None
    assert exact.columns[0] == ["1234567.123456789", "1234567.12345679"]
    assert _rows(read_table(path, ReadOptions())) == _rows(exact)


def test_boolean_scan_sees_single_quoted_attributes(tmp_path: Path) -> None:
    source = _write_openpyxl(tmp_path / "double.xlsx", [["n"], [5.0], [True], [0.0]])
    single = tmp_path / "single.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(single, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/worksheets/"):
                assert b't="b"' in data
                data = data.replace(b't="b"', b"t='b'")
            zout.writestr(info, data)
    plain = _write_openpyxl(tmp_path / "plain.xlsx", [["n"], [5.0], [1.0], [0.0]])
    part = "xl/worksheets/sheet1.xml"
    zero_one = {0: np.array([1, 2])}  # data rows 1 and 2 = cells A3 and A4
    assert _boolean_cells_among(source, part, zero_one, 1)
    assert _boolean_cells_among(single, part, zero_one, 1)
    assert not _boolean_cells_among(source, part, {0: np.array([2])}, 1)
    assert not _boolean_cells_among(plain, part, zero_one, 1)
    many = {0: np.arange(40)}  # past the cells looked up one by one: the "b" values are read
    assert _boolean_cells_among(source, part, many, 1)
    assert _boolean_cells_among(single, part, many, 1)
    assert not _boolean_cells_among(plain, part, many, 1)
    fast, exact = _both(single)
    assert fast is None
    assert exact.columns[0] == ["5", "true", "0"]
    fast, exact = _both(plain)
    assert fast is not None
    assert _rows(fast) == _rows(exact)


def test_boolean_column_beside_zeros_keeps_the_fast_path(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["VIP", "Balance", "Mixed"]]
    rows += [[i % 2 == 0, float(i % 3), "x" if i % 5 else i % 2 == 1] for i in range(40)]
    for writer in (_write_openpyxl, _write_xlsxwriter):
        path = writer(tmp_path / f"{writer.__name__}.xlsx", rows)
        fast, exact = _both(path)
        assert fast is not None, writer.__name__
        assert _rows(fast) == _rows(exact)
        assert fast.columns[0][:2] == ["true", "false"]
        assert fast.columns[1][:3] == ["0", "1", "2"]
        assert fast.columns[2][:2] == ["false", "x"]


def _write_serials(path: Path, serials: list[float]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write(0, 0, "at")
    for r, serial in enumerate(serials, start=1):
        ws.write_number(r, 0, serial, when)
    wb.close()
    return path


def test_date_serials_with_float_error_and_1904_workbooks(tmp_path: Path) -> None:
    # Serials of whole seconds carry float error (k / 86400): both paths land on one second.
    whole = _write_serials(
        tmp_path / "whole.xlsx", [40000 + k * 7 + k / 86400 for k in range(1500)]
    )
    fast, exact = _both(whole)
    assert fast is not None
    assert _rows(fast) == _rows(exact)
    # A hair below midnight, or a fraction of a second: agree, or leave it to calamine.
    for k, serial in enumerate([45292.99999999999, 45293 - 1e-9, 45292.5000000001, 45292.99999999]):
        odd = _write_serials(tmp_path / f"odd{k}.xlsx", [45000.25, serial])
        fast, exact = _both(odd)
        if fast is not None:
            assert _rows(fast) == _rows(exact)
        assert _rows(read_table(odd, ReadOptions())) == _rows(exact)
    mac = tmp_path / "mac.xlsx"
    book = openpyxl.Workbook()
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    book.active.append(["at", "n"])
    book.active.append([dt.datetime(2024, 3, 1, 9, 30), 5.0])
    book.active.append([dt.datetime(2024, 3, 2), 6.0])
    book.save(mac)
    fast, exact = _both(mac)
    assert fast is not None
    assert _rows(fast) == _rows(exact)
    assert fast.columns[0] == ["2024-03-01T09:30:00", "2024-03-02"]


def test_styled_empty_cells_and_empty_text_widen_both_paths_alike(tmp_path: Path) -> None:
    path = tmp_path / "styled.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    bold = wb.add_format({"bold": 1})
    ws.write_row(0, 0, ["ref", "Phone"])
    ws.write_row(1, 0, ["r1", 5125551234])
    ws.write_blank(6, 4, None, bold)  # formatting only, no value
    ws.write_string(7, 5, "")  # an empty text cell
    ws.write_blank(9, 7, "", bold)
    wb.close()
    fast, exact = _both(path)
    assert fast is not None
    assert _rows(fast) == _rows(exact)
    assert fast.headers == ["ref", "Phone", "", "", "", ""]
    assert list(fast.row_numbers) == [2]  # trailing rows without a value are not data


def test_iso_date_cells_and_dates_typed_as_text(tmp_path: Path) -> None:
    # openpyxl's iso_dates writes t="d" cells holding ISO text, which the calamine path turns
    # into dates, datetimes and times; fastexcel keeps the text.
    wb = openpyxl.Workbook(iso_dates=True)
    ws = wb.active
    ws.append(["mixed", "dates", "times", "typed"])
    ws.append(["text", dt.date(2024, 6, 1), dt.time(9, 30), "2024-06-01"])
    ws.append([dt.datetime(2024, 6, 1, 9, 30), dt.datetime(2024, 6, 2), dt.time(9, 30, 0, 500000)])
    ws.append([dt.date(2024, 6, 3), dt.datetime(2024, 6, 2, 0, 0, 0, 250000), "x", "2024-06-03"])
    ws.append([dt.datetime(2024, 6, 1), None, None, "soon"])
    path = tmp_path / "iso.xlsx"
    wb.save(path)
    fast, exact = _both(path)
    if fast is not None:
        assert _rows(fast) == _rows(exact)
    assert _rows(read_table(path, ReadOptions())) == _rows(exact)
    assert exact.columns[0] == ["text", "2024-06-01T09:30:00", "2024-06-03", "2024-06-01"]
    # Dates typed as text (the common case) keep the fast path.
    text = _write_openpyxl(tmp_path / "text.xlsx", [["when"], ["2024-06-01"], ["soon"]])
    fast, exact = _both(text)
    assert fast is not None
    assert _rows(fast) == _rows(exact)


def test_header_cells_fastexcel_names_itself(tmp_path: Path) -> None:
    # fastexcel names a missing header cell "__UNNAMED__n", and a boolean or error one too.
    path = tmp_path / "headers.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["ref", " ", "", None, "NULL", "a\nb"])
    ws.write_boolean(0, 6, True)
    ws.write_row(1, 0, ["r1", "x", "y", "z", "w", "v", "u"])
    wb.close()
    fast, exact = _both(path)
    assert fast is None
    assert exact.headers == ["ref", " ", "", "", "NULL", "a\nb", "true"]
    assert _rows(read_table(path, ReadOptions())) == _rows(exact)
    missing = tmp_path / "missing.xlsx"
    _write_openpyxl(missing, [["ref", None, "Phone"], ["r1", "x", "5125551234"]])
    fast, exact = _both(missing)
    assert fast is not None
    assert fast.headers == exact.headers == ["ref", "", "Phone"]
    assert _rows(fast) == _rows(exact)
