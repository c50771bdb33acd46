"""Fuzzing the reader and validator with generated spreadsheets (hypothesis).

Random headers, cell types, phone formats, encodings and delimiters, written as CSV or XLSX by
real writers, must keep three promises: every non-blank row is either a valid record or a refused
row with a message; every valid target is E.164 and equals what ``phonenumbers`` itself makes of
the cell; and nothing raises but :class:`~uploader.errors.InputError` (only for a file with no
data rows at all).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.phone_reference import phonenumbers_e164
from uploader.config import ReadOptions
from uploader.errors import InputError
from uploader.models import RowStatus
from uploader.validation import validate

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "AU", "JP", "MX", "ZA")
FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
)


@st.composite
def phone_text(draw: st.DrawFn) -> str:
    """A phone cell as people type them: real numbers in many formats, near misses, junk."""
    kind = draw(st.integers(0, 5))
    if kind <= 1:
        region = draw(st.sampled_from(REGIONS))
        kinds = (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
        )
        number = phonenumbers.example_number_for_type(region, draw(st.sampled_from(kinds)))
        if number is None:
            return ""
        text = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS)))
        if kind == 1:  # mangle one digit, or pad, or cut
            digits = [i for i, ch in enumerate(text) if ch.isdigit()]
            i = draw(st.sampled_from(digits))
            text = text[:i] + draw(st.sampled_from("0123456789")) + text[i + 1 :]
        return text
    if kind == 2:
        return draw(st.from_regex(r"\+?1?[ (]?[2-9]\d{2}[) .-]?\d{3}[ .-]?\d{4}", fullmatch=True))
    if kind == 3:
        return draw(st.text(alphabet="0123456789+-(). ", max_size=20))
    if kind == 4:
        return draw(st.text(max_size=12))
    return ""


CELL = st.one_of(
    st.text(max_size=15),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["", " ", "é", "名前", "=1+1", "@x", "\t"]),
)


@st.composite
def sheet(draw: st.DrawFn) -> dict[str, Any]:
    target = draw(st.sampled_from(["phone", "Phone Number", "Mobile", "target", "Cell"]))
    with_ref = draw(st.booleans())
    n_vars = draw(st.integers(0, 3))
    variables = [f"var_{i}_{draw(st.sampled_from(['a', 'b', 'ü']))}" for i in range(n_vars)]
    headers = [target, *(["reference_id"] if with_ref else []), *variables]
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            rows.append([""] * len(headers))
            continue
        row = [draw(phone_text())]
        if with_ref:
            row.append(draw(st.sampled_from([f"id{i}", f"id{i}", "", "dup"])))
        row += [draw(CELL) for _ in variables]
        rows.append(row)
    return {
        "headers": headers,
        "rows": rows,
        "region": draw(st.sampled_from(REGIONS)),
        "generate": not with_ref or draw(st.booleans()),
    }


def _reference(text: str, region: str) -> str:
    """phonenumbers' own answer: E.164 when valid (and at most 15 digits), else ""."""
    e164 = phonenumbers_e164(text, region)
    return e164 if len(e164) <= 16 else ""  # E.164 stops at 15 digits; phonenumbers may not


def _check(path: Path, spec: dict[str, Any]) -> None:
    options = ReadOptions(region=spec["region"], generate_reference_ids=spec["generate"])
    try:
        result = validate(path, options)
    except InputError as exc:
        assert "no data rows" in str(exc), exc
        table_is_blank = all(not str(c).strip() for r in spec["rows"] for c in r)
        assert table_is_blank or all(not str(r[0]).strip() for r in spec["rows"]), exc
        return
    table = result.table
    target_j = table.headers.index(result.mapping.target)
    issues = result.issues_by_row()
    assert len(result.statuses) == table.n_rows
    for i, number in enumerate(table.row_numbers):
        status = result.statuses[i]
        cells = table.row(i)
        if not any(cells):
            assert status == RowStatus.BLANK
            continue
        assert status in (RowStatus.VALID, RowStatus.REFUSED), status
        text = cells[target_j]
        e164 = result.targets_e164[i]
        assert e164 == _reference(text, spec["region"]), (text, e164)
        if status == RowStatus.VALID:
            assert E164.match(e164), e164
            assert not issues.get(int(number))
        else:
            assert issues.get(int(number)), f"row {number} refused without a reason"
            assert all(issue.message for issue in issues[int(number)])
    valid_rows = {r.row_number for r in result.records}
    assert valid_rows == {
        int(n) for i, n in enumerate(table.row_numbers) if result.statuses[i] == RowStatus.VALID
    }
    for record in result.records:
        assert E164.match(record.request.target)
        assert record.request.reference_id


ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
DELIMITERS = (",", ";", "\t", "|")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(spec=sheet(), encoding=st.sampled_from(ENCODINGS), delimiter=st.sampled_from(DELIMITERS))
def test_fuzzed_csv_keeps_the_row_invariants(
    spec: dict[str, Any], encoding: str, delimiter: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)  # \r\n: cells with \r or \n get quoted
    writer.writerow(spec["headers"])
    writer.writerows(spec["rows"])
    try:
        data = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = buffer.getvalue().encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        _check(path, spec)


def _typed(value: str, draw_type: int) -> Any:
    """The same cell as another type a workbook may hold (numbers, dates, booleans)."""
    digits = re.sub(r"\D", "", value)
    if draw_type == 1 and digits and len(digits) <= 15 and not value.startswith("+"):
        return int(digits)
    if draw_type == 2 and digits and len(digits) <= 15:
        return float(digits)
    if draw_type == 3:
        return dt.date(2024, 1, 1 + len(value) % 28)
    if draw_type == 4:
        return bool(len(value) % 2)
    return value or None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=sheet(), types=st.lists(st.integers(0, 4), min_size=40, max_size=40))
def test_fuzzed_xlsx_keeps_the_row_invariants(spec: dict[str, Any], types: list[int]) -> None:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # openpyxl refuses control characters in cells (Excel cannot store them either)
    spec = dict(spec, rows=[[ILLEGAL_CHARACTERS_RE.sub("", v) for v in r] for r in spec["rows"]])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(spec["headers"])
    for r, row in enumerate(spec["rows"]):
        cells: list[Any] = []
        for c, value in enumerate(row):
            if c == 0 or value.startswith("="):
                kind = types[(r + c) % len(types)] if c == 0 else 0
                cells.append(_typed(value, kind) if kind else (value or None))
                if value.startswith("="):
                    cells[-1] = "'" + value  # text, not a formula
            else:
                cells.append(value or None)
        ws.append(cells)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        wb.save(path)
        _check(path, spec)
