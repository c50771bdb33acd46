"""The shipped templates and samples: what people open in Excel first."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from uploader.templates import (
    SAMPLE_FILES,
    TEMPLATE_FILES,
    TEMPLATE_HEADERS,
    write_samples,
    write_templates,
)

ROOT = Path(__file__).resolve().parents[2]


def _cells(path: Path) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(path)
    return {
        sheet.title: [[c.value for c in row] for row in sheet.iter_rows()]
        for sheet in book.worksheets
    }


@pytest.mark.parametrize(
    ("folder", "files", "writer"),
    [("templates", TEMPLATE_FILES, write_templates), ("samples", SAMPLE_FILES, write_samples)],
)
def test_repository_copies_match_what_the_package_writes(
    tmp_path: Path, folder: str, files: dict, writer
) -> None:
    """templates/ and samples/ are the committed output of uploader.templates (no drift)."""
    writer(tmp_path)
    for name in files:
        shipped, fresh = ROOT / folder / name, tmp_path / name
        assert shipped.exists(), f"{folder}/{name} missing: run python -m uploader.templates"
        if name.endswith(".xlsx"):  # zip bytes vary with the writer's version; cells must not
            assert _cells(shipped) == _cells(fresh), f"{folder}/{name} is stale"
        else:
            assert shipped.read_bytes() == fresh.read_bytes(), f"{folder}/{name} is stale"


def test_xlsx_template_keeps_phones_as_text(tmp_path: Path) -> None:
    write_templates(tmp_path)
    book = openpyxl.load_workbook(tmp_path / "contacts-template.xlsx")
    assert book.sheetnames == ["Contacts", "Instructions"]  # the reader takes the first sheet
    sheet = book["Contacts"]
    assert [c.value for c in sheet[1]] == TEMPLATE_HEADERS
    example = sheet["B2"]
    assert example.value == "+15125550100"
    assert example.data_type == "s"
    assert example.number_format == "@"
    # the whole phone column (not only the example cell) is Text, so typed numbers keep the +
    assert sheet.column_dimensions["B"].number_format == "@"
    assert sheet.freeze_panes == "A2"
    instructions = "\n".join(
        str(c.value) for row in book["Instructions"].iter_rows() for c in row if c.value
    )
    for word in ("reference_id", "target", "EXAMPLE", "done/", "failed/"):
        assert word in instructions


def test_csv_template_has_the_same_header_and_a_bom(tmp_path: Path) -> None:
    write_templates(tmp_path)
    raw = (tmp_path / "contacts-template.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == TEMPLATE_HEADERS
    assert rows[1][1] == "+15125550100"


def test_messy_sample_has_what_real_exports_have(tmp_path: Path) -> None:
    write_samples(tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / "contacts-messy.xlsx").active
    phones = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert any(isinstance(p, int | float) for p in phones), "an Excel-number phone"
    assert None in phones, "a missing phone"
    ids = [row[0].value for row in sheet.iter_rows(min_row=2) if row[0].value]
    assert len(ids) != len(set(ids)), "a repeated id"
    assert any(all(c.value is None for c in row) for row in sheet.iter_rows(min_row=2)), "blank"
    rows = list(csv.reader((tmp_path / "contacts-messy.csv").read_text("utf-8-sig").splitlines()))
    assert len({len(r) for r in rows if r}) == 1


def test_crontab_line_uses_once_quiet_and_a_log(tmp_path: Path) -> None:
    write_templates(tmp_path)
    lines = [
        line
        for line in (tmp_path / "crontab.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert len(fields) == 6  # five time fields and the command
    assert all(flag in fields[5] for flag in ("watch", "--once", "-q", "--log-file"))
