"""Workbooks written by real writers (openpyxl, xlsxwriter, xlwt, pandas/odfpy): exact cell text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
import xlwt

from uploader.config import ReadOptions
from uploader.errors import InputError
from uploader.reader import read_table


def _cols(table) -> dict[str, list[str]]:
    return {h: list(c) for h, c in zip(table.headers, table.columns, strict=True)}


def test_openpyxl_numbers_dates_booleans(tmp_path: Path) -> None:
    path = tmp_path / "typed.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Phone", "Big", "Price", "Due", "At", "VIP", "Formula"])
    ws.append(
        [
            1001,
            5125551234,
            1e20,
            12.5,
            dt.date(2024, 3, 1),
            dt.datetime(2024, 3, 1, 9, 30),
            True,
            "=A2*2",
        ]
    )
    ws.append([1002.0, 5125551234.0, 0.1, 1e-7, None, dt.datetime(2024, 3, 2), False, None])
    wb.save(path)
    cols = _cols(read_table(path, ReadOptions()))
    assert cols["ID"] == ["1001", "1002"]
    assert cols["Phone"] == ["5125551234", "5125551234"]
    assert cols["Big"] == ["100000000000000000000", "0.1"]
    assert cols["Price"] == ["12.5", "0.0000001"]
    assert cols["Due"] == ["2024-03-01", ""]
    assert cols["At"] == ["2024-03-01T09:30:00", "2024-03-02"]
    assert cols["VIP"] == ["true", "false"]
    assert cols["Formula"] == ["", ""]  # openpyxl stores no cached value


def test_xlsxwriter_scientific_format_and_cached_formula(tmp_path: Path) -> None:
    path = tmp_path / "excelish.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Contacts")
    sci = wb.add_format({"num_format": "0.00E+00"})
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, ["reference_id", "Mobile", "Total", "Joined", "Notes"])
    ws.write_string(1, 0, "r1")
    ws.write_number(1, 1, 5125551234, sci)  # Excel shows 5.13E+09
    ws.write_formula(1, 2, "=1+1", None, 2)
    ws.write_datetime(1, 3, dt.datetime(2023, 12, 31), date_fmt)
    ws.write_string(1, 4, "line one\nline two")
    ws.write_string(2, 0, "r2")
    ws.write_number(2, 1, 447700900123)
    ws.write_formula(2, 2, '="x"&"y"', None, "xy")
    wb.close()
    table = read_table(path, ReadOptions())
    cols = _cols(table)
    assert table.sheet == "Contacts"
    assert cols["Mobile"] == ["5125551234", "447700900123"]
    assert cols["Total"] == ["2", "xy"]
    assert cols["Joined"] == ["2023-12-31", ""]
    assert cols["Notes"] == ["line one\nline two", ""]


def test_first_sheet_with_data_and_sheet_selection(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    data = wb.create_sheet("Contacts")
    data.append(["ID", "Phone"])
    data.append(["a", "5125551234"])
    other = wb.create_sheet("Old")
    other.append(["ID", "Phone"])
    other.append(["z", "5125550000"])
    other.append(["y", "5125550001"])
    wb.save(path)
    assert read_table(path, ReadOptions()).sheet == "Contacts"
    assert read_table(path, ReadOptions(sheet="Old")).n_rows == 2
    assert read_table(path, ReadOptions(sheet="old ")).sheet == "Old"
    assert read_table(path, ReadOptions(sheet=2)).sheet == "Old"
    assert read_table(path, ReadOptions(sheet="2")).sheet == "Old"
    with pytest.raises(InputError, match="'Cover', 'Contacts', 'Old'"):
        read_table(path, ReadOptions(sheet="Nope"))
    with pytest.raises(InputError, match="no sheet number 5"):
        read_table(path, ReadOptions(sheet=5))
    with pytest.raises(InputError, match="no header on row 1"):
        read_table(path, ReadOptions(sheet="Cover"))


def test_title_rows_blank_rows_and_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "titled.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Campaign export"
    ws.append([])
    ws.append(["ID", "Phone", "Name"])
    ws.append(["1", "5125551234", "Ann"])
    ws.append([None, None, None])
    ws.append(["2", "5125551235", "Bob"])
    ws.append([])
    wb.save(path)
    table = read_table(path, ReadOptions(header_row=3))
    assert table.headers == ["ID", "Phone", "Name"]
    assert list(table.row_numbers) == [4, 5, 6]
    assert table.row(1) == ["", "", ""]


def test_duplicate_headers_are_kept_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "dupes.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Phone", "Name", "Name "])
    ws.append(["1", "5125551234", "Ann", "Annie"])
    wb.save(path)
    assert read_table(path, ReadOptions()).headers == ["ID", "Phone", "Name", "Name "]


def test_xls_written_by_xlwt(tmp_path: Path) -> None:
    path = tmp_path / "legacy.xls"
    book = xlwt.Workbook()
    sheet = book.add_sheet("People")
    for j, header in enumerate(["ID", "Phone", "Born", "Active"]):
        sheet.write(0, j, header)
    sheet.write(1, 0, 17)
    sheet.write(1, 1, 5125551234)
    sheet.write(1, 2, dt.date(1990, 5, 17), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    sheet.write(1, 3, True)
    book.save(str(path))
    table = read_table(path, ReadOptions())
    assert table.format == "xls"
    assert table.row(0) == ["17", "5125551234", "1990-05-17", "true"]


def test_ods_written_by_pandas_odf(tmp_path: Path) -> None:
    path = tmp_path / "calc.ods"
    frame = pd.DataFrame(
        {
            "ID": ["a1", "a2"],
            "Phone": [5125551234, 4155550100],
            "Score": [1.5, 2.0],
            "Note": ["é", ""],
        }
    )
    frame.to_excel(path, index=False, engine="odf")
    table = read_table(path, ReadOptions())
    assert table.format == "ods"
    cols = _cols(table)
    assert cols["Phone"] == ["5125551234", "4155550100"]
    assert cols["Score"] == ["1.5", "2"]
    assert cols["Note"] == ["é", ""]


def test_xlsm_and_pandas_xlsx(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ID": [1, 2], "Phone": ["(512) 555-1234", "+44 20 7946 0958"]})
    xlsx = tmp_path / "pandas.xlsx"
    frame.to_excel(xlsx, index=False)
    xlsm = tmp_path / "macro.xlsm"
    xlsm.write_bytes(xlsx.read_bytes())
    for path in (xlsx, xlsm):
        table = read_table(path, ReadOptions())
        assert table.row(0) == ["1", "(512) 555-1234"]


def test_corrupt_workbook_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match=r"broken\.xlsx"):
        read_table(path, ReadOptions())
    xls = tmp_path / "broken.xls"
    xls.write_bytes(b"not an xls at all")
    with pytest.raises(InputError, match=r"broken\.xls"):
        read_table(xls, ReadOptions())
