"""Read one workbook sheet (XLSX/XLSM/XLS/ODS/XLSB) into a :class:`~uploader.models.Table` of text.

Two paths give the same text for every cell. The calamine path (:func:`read_workbook_calamine`)
reads every cell through python-calamine's Python objects, openpyxl for the rare ``.xlsx``
calamine refuses; it is exact for any workbook. An ``.xlsx``/``.xlsm`` sheet is first tried
through fastexcel (:func:`read_xlsx_fast`: calamine to typed Arrow columns, converted to text
column by column); that path steps aside, returning None, whenever its type inference could make
any cell's text differ. Sheet choice (by name, number or the first visible sheet with data) and
the header row are settled the same way on both paths. Foreign exceptions are translated into
:class:`~uploader.errors.InputError` here; :func:`uploader.reader.read_table` is the entry point.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uploader.cellref import column_letter
from uploader.cells import TextColumn, cell_to_text, clean_array, column_text, float_texts
from uploader.config import ReadOptions
from uploader.errors import InputError
from uploader.guards import check_columns
from uploader.models import Table

__all__ = ["read_workbook_calamine", "read_xlsx_fast"]

log = logging.getLogger("uploader")


def read_workbook_calamine(path: Path, fmt: str, options: ReadOptions) -> Table:
    """Every cell through python-calamine's Python objects: exact for any workbook, slower."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
        sheet_name, rows = _pick_sheet(workbook, names, options, path)
    except InputError:
        raise
    except (CalamineError, OSError, ValueError) as exc:
        if fmt in ("xlsx", "xlsm"):
            log.debug("calamine could not read %s (%s); trying openpyxl", path, exc)
            sheet_name, rows = _read_openpyxl(path, options)
        else:
            raise InputError(f"cannot be read as {fmt}: {exc}", path=str(path)) from exc
    return _table_from_rows(path, fmt, sheet_name, rows, options)


def _visible_first(workbook: Any, names: list[str]) -> list[str]:
    """Sheet names with hidden sheets last: a hidden lookup sheet is not the contact list."""
    hidden = {
        m.name
        for m in getattr(workbook, "sheets_metadata", [])
        if str(m.visible).rsplit(".", 1)[-1] != "Visible"
    }
    return [n for n in names if n not in hidden] + [n for n in names if n in hidden]


def _pick_sheet(
    workbook: Any, names: list[str], options: ReadOptions, path: Path
) -> tuple[str, list[list[Any]]]:
    sheet = options.sheet
    if isinstance(sheet, str) and sheet.strip().lstrip("-").isdigit() and sheet not in names:
        sheet = int(sheet)
    if sheet is None:
        for name in _visible_first(workbook, names):
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            if any(any(c not in ("", None) for c in r) for r in rows):
                return name, rows
        raise InputError("has no sheet with any data", path=str(path))
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(
                f"has no sheet number {sheet} (sheets, counted from 0: "
                + ", ".join(f"{i}={n!r}" for i, n in enumerate(names))
                + ")",
                path=str(path),
            )
        name = names[sheet]
    else:
        if sheet not in names:
            folded = {n.strip().casefold(): n for n in names}
            if sheet.strip().casefold() not in folded:
                raise InputError(
                    f"has no sheet named {sheet!r}; its sheets are: "
                    + ", ".join(repr(n) for n in names),
                    path=str(path),
                )
            sheet = folded[sheet.strip().casefold()]
        name = sheet
    return name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


# ------------------------------------------------------------------------------ fast xlsx path

#: Text fastexcel may have made from a number or a date, with other text than ours. Its number
#: text has at most 9 decimals, no exponent, no leading zeros; whole numbers of 8 digits and more
#: are left out (no double that is not whole rounds to them at 9 decimals, the spacing of doubles
#: there exceeds 1e-9, so number or text, the digits are ours), as is any text with leading
#: zeros (a number never reads so). Dates: a date cell reads "YYYY-MM-DD HH:MM:SS" here, and an
#: ISO date cell (t="d") its own text, which the calamine path turns into a date, datetime or
#: time; only a plain "YYYY-MM-DD" reads the same both ways, so datetimes and times are suspects.
_FX_DATED = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]|^[0-9]{1,2}:[0-9]{2}"
_FX_SUSPECT = r"^-?(0|[1-9][0-9]{0,6}|(0|[1-9][0-9]*)\.[0-9]{0,8}[1-9])$|" + _FX_DATED
#: A header name made from a number uses yet another text (shortest digits, zero-padded).
_FX_HEADER_SUSPECT = r"^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$|" + _FX_DATED
_FX_DEDUPED = re.compile(r"^(.+)_[0-9]+$")
_MS_PER_DAY = 86_400_000
_MS_1900_03_01 = -2_203_891_200_000  # Excel's leap-year bug lives before this day
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_FEW_CELLS = 16  # up to this many 0/1 cells are looked up one by one
_MAX_BOOLEAN_HITS = 2_000  # more boolean cells than this: not worth telling them apart here
_T_IS_B = re.compile(rb"""\st\s*=\s*["']b["']$""")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\s")
_CELL_REF = re.compile(rb"""\sr\s*=\s*["']([A-Z]+[0-9]+)["']""")
_ROW_NUMBER = re.compile(rb"""<(?:\w+:)?row\b[^>]*?\sr\s*=\s*["']([0-9]+)["']""")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)


def read_xlsx_fast(path: Path, fmt: str, options: ReadOptions) -> Table | None:
    """The sheet through fastexcel (Rust to Arrow, one typed column at a time), or None.

    fastexcel infers one type per column and converts numbers to text its own way, so this
    path is taken only when nothing it did can differ from the calamine path: the sheet starts
    at A1 (row numbers stay the sheet's own), every typed column converted without a single cell
    error, no number/boolean ambiguity (0 and 1 in a numeric column may have been booleans), no
    durations, sub-second times or dates before 1900-03-01, no headers renamed. Text that may
    have been a number formatted differently (``1001``, ``0.3``) is settled by reading just those
    columns again as numbers (:func:`_resolve_suspects`). Anything else returns None and the
    calamine path reads the file (the tests compare both paths cell by cell).
    """
    try:
        import fastexcel
    except ImportError:
        return None
    # "Could not determine dtype ... falling back to string" for empty columns: noise to users.
    noisy = logging.getLogger("fastexcel")
    if noisy.level == logging.NOTSET:  # an application's own setting wins
        noisy.setLevel(logging.ERROR)
    try:
        excel = fastexcel.read_excel(str(path))
        with zipfile.ZipFile(path) as zf:  # one open for the sheet map and the sheet's head
            parts, hidden = _sheet_parts(zf)
            name = _fast_sheet_name(list(excel.sheet_names), hidden, options)
            part = parts.get(name) if name is not None else None
            if name is None or part is None:
                return None
            with zf.open(part) as handle:
                head = handle.read(1 << 16)
        if not _starts_at_a1(head):
            return None
        sheet = excel.load_sheet(name, header_row=options.header_row - 1, schema_sample_rows=None)
        infos = sheet.available_columns()
        batch, errors = sheet.to_arrow_with_errors()
    except Exception as exc:  # any doubt, any failure: the exact path decides
        log.debug("fast xlsx path declined %s: %s", path, exc)
        return None
    if errors is not None and errors.errors:
        return None
    headers = _fast_headers(infos)
    if headers is None or batch.num_columns != len(headers):
        return None
    # fastexcel makes up a name for a missing header cell, and for a boolean or error one too.
    unnamed = [j for j, info in enumerate(infos) if info.column_name_from == "generated"]
    if unnamed and not _cells_empty(
        head, [f"{column_letter(j)}{options.header_row}" for j in unnamed]
    ):
        return None
    check_columns(len(headers), path)
    texts: list[pa.Array] = []
    zero_one: dict[int, np.ndarray] = {}
    for j in range(batch.num_columns):
        column = batch.column(j)
        rows = _zero_one_rows(column)
        if len(rows):
            zero_one[j] = rows
        text = _fast_column_text(column)
        if text is None:
            return None
        texts.append(text)
    # fastexcel reads a boolean cell in a numeric column as 0/1: those cells must be numbers.
    if zero_one and _boolean_cells_among(path, part, zero_one, options.header_row):
        return None
    suspects = {
        j: mask
        for j, text in enumerate(texts)
        if pa.types.is_string(batch.column(j).type)
        and (mask := pc.match_substring_regex(texts[j], _FX_SUSPECT)).true_count
    }
    if suspects:
        try:
            numbers = excel.load_sheet(
                name,
                header_row=options.header_row - 1,
                use_columns=list(suspects),
                dtypes=dict.fromkeys(suspects, "float"),
            ).to_arrow()
        except Exception as exc:  # any doubt, any failure: the exact path decides
            log.debug("fast xlsx path declined %s: %s", path, exc)
            return None
        for k, (j, mask) in enumerate(suspects.items()):
            resolved = _resolve_suspects(texts[j], mask, numbers.column(k))
            if resolved is None:
                return None
            texts[j] = resolved
    n_rows = _trailing_blank_cut(texts, batch.num_rows)
    h = options.header_row
    return Table(
        path=path,
        format=fmt,
        sheet=name,
        headers=headers,
        # Text of numbers, booleans and dates is plain ASCII already: only text cells need cleaning.
        columns=[
            TextColumn(
                t.slice(0, n_rows)
                if _plain_ascii_type(batch.column(j).type)
                else clean_array(t.slice(0, n_rows))
            )
            for j, t in enumerate(texts)
        ],
        row_numbers=range(h + 1, h + 1 + n_rows),
    )


def _fast_sheet_name(names: list[str], hidden: set[str], options: ReadOptions) -> str | None:
    """The sheet the calamine path would read, when known without loading; else None."""
    sheet = options.sheet
    if sheet is None:
        visible = [n for n in names if n not in hidden] + [n for n in names if n in hidden]
        # The first visible sheet is the calamine path's choice when it has data (A1 is checked).
        return visible[0] if visible else None
    if isinstance(sheet, int) or (isinstance(sheet, str) and sheet not in names):
        if str(sheet).strip().isdigit() and 0 <= int(str(sheet).strip()) < len(names):
            return names[int(str(sheet).strip())]
        folded = {n.strip().casefold(): n for n in names}
        return folded.get(str(sheet).strip().casefold())
    return str(sheet)


def _sheet_parts(zf: zipfile.ZipFile) -> tuple[dict[str, str], set[str]]:
    """({sheet name: zip member of its XML}, names of hidden sheets), from workbook.xml + rels."""
    import xml.etree.ElementTree as ET

    book = ET.fromstring(zf.read("xl/workbook.xml"))
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    links = {r.get("Id"): r.get("Target") for r in rels.iter(f"{_NS_RELS}Relationship")}
    parts: dict[str, str] = {}
    hidden: set[str] = set()
    for node in book.iter(f"{_NS_MAIN}sheet"):
        name = node.get("name")
        rel_id = next((v for k, v in node.attrib.items() if k.endswith("}id")), None)
        target = links.get(rel_id)
        if name is None or not target:
            continue
        parts[name] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        if node.get("state", "visible") != "visible":
            hidden.add(name)
    return parts, hidden


def _starts_at_a1(head: bytes) -> bool:
    """Whether the first cell with a value is A1, so the sheet's range starts there.

    calamine (under fastexcel) numbers rows and columns from the first used cell; the calamine
    path pads from A1. ``head`` is the start of the sheet's XML.
    """
    for match in _CELL.finditer(head):
        if _has_value(match):
            return re.search(rb'\br="A1"', match.group(1)) is not None
    return False


def _has_value(cell: re.Match[bytes]) -> bool:
    return re.search(rb"<(?:\w+:)?(?:v|t)\b[^>]*>[^<]", cell.group(2) or b"") is not None


def _cells_empty(head: bytes, refs: list[str]) -> bool:
    """Whether these cells hold no value, read from the start of the sheet's XML (unsure: no)."""
    wanted = {ref.encode() for ref in refs}
    last = max(int(re.sub(rb"[A-Z]", b"", ref)) for ref in wanted)
    for match in _CELL.finditer(head):
        ref = _CELL_REF.search(match.group(1))
        if ref is None:
            return False
        if ref.group(1) in wanted and _has_value(match):
            return False
        if int(re.sub(rb"[A-Z]", b"", ref.group(1))) > last:
            return True  # past the row: every wanted cell was seen or is missing
    return b"</sheetData>" in head or b":sheetData>" in head


def _boolean_cells_among(
    path: Path, part: str, cells: dict[int, np.ndarray], header_row: int
) -> bool:
    """Whether any of these cells (column -> 0-based data rows) may be a boolean (``t="b"``).

    Scans the sheet's XML in chunks for the attribute values ``"b"``/``'b'``, reads the cell
    reference of the tag each one sits in, and stops past the last row of interest. Anything
    it cannot read, or a sheet with many boolean cells, counts as yes: a false yes only costs
    speed (the calamine path reads the file).
    """
    wanted: set[bytes] = set()
    last_row = 0
    for j, rows in cells.items():
        numbers = rows + header_row + 1
        last_row = max(last_row, int(numbers.max()))
        letter = column_letter(j).encode()
        wanted.update(letter + str(n).encode() for n in numbers.tolist())
    few = len(wanted) <= _FEW_CELLS
    seen = 0
    overlap = b""
    with zipfile.ZipFile(path) as zf, zf.open(part) as handle:
        while chunk := handle.read(1 << 22):
            window = overlap + chunk
            if few:
                # A few cells: look each one up by its reference (a longer needle, fewer hits).
                if any(_is_boolean_ref(window, ref) for ref in wanted):
                    return True
            else:
                hits = _boolean_values(window)
                seen += len(hits)
                if seen > _MAX_BOOLEAN_HITS or any(
                    _boolean_cell_in(window, pos, wanted) for pos in hits
                ):
                    return True
            start = chunk.rfind(b"<row")
            row = _ROW_NUMBER.match(chunk, start) if start != -1 else None
            if row is not None and int(row.group(1)) > last_row:
                return False
            overlap = chunk[-4096:]
    return False


def _boolean_values(window: bytes) -> list[int]:
    """Where ``"b"`` or ``'b'`` occurs (up to a cap), the value a boolean cell's ``t`` has."""
    found: list[int] = []
    for needle in (b'"b"', b"'b'"):
        if needle == b"'b'" and window.find(b"'") == -1:
            continue  # one memchr rules out single-quoted attributes
        pos = window.find(needle)
        while pos != -1 and len(found) <= _MAX_BOOLEAN_HITS:
            found.append(pos)
            pos = window.find(needle, pos + 3)
    return found


def _is_boolean_ref(window: bytes, ref: bytes) -> bool:
    """Whether the cell ``ref`` appears in this stretch of XML as a boolean (unsure: yes)."""
    needles = (b'r="' + ref + b'"', b"r='" + ref + b"'")
    for needle in needles if window.find(b"'") != -1 else needles[:1]:
        pos = window.find(needle)
        while pos != -1:
            start = window.rfind(b"<", 0, pos)
            end = window.find(b">", pos)
            if start == -1:
                return True  # cut at the start of the XML: cannot be read, so count it
            if end == -1:
                break  # cut at the window's end: the next window (overlapping) sees it whole
            tag = window[start:end]
            if _CELL_TAG.match(tag) and re.search(rb"""\st\s*=\s*["']b["']""", tag):
                return True
            pos = window.find(needle, pos + 1)
    return False


def _boolean_cell_in(window: bytes, pos: int, wanted: set[bytes]) -> bool:
    """Whether the attribute value at ``pos`` makes a wanted cell boolean (unsure: yes)."""
    start = window.rfind(b"<", 0, pos)
    if start == -1:
        return True  # the tag began before this window
    tag = window[start : pos + 3]
    if not _CELL_TAG.match(tag) or not _T_IS_B.search(tag):
        return False  # text, another element or another attribute: not a boolean cell
    ref = _CELL_REF.search(tag)
    return ref is None or ref.group(1) in wanted


def _fast_headers(infos: Sequence[Any]) -> list[str] | None:
    """Header texts from fastexcel's column names, or None when it may have changed one."""
    headers: list[str] = []
    for info in infos:
        if info.column_name_from == "generated" and info.name == f"__UNNAMED__{info.index}":
            headers.append("")
        elif info.column_name_from == "looked_up":
            headers.append(info.name)
        else:
            return None
    names = set(headers)
    for text in headers:
        deduped = _FX_DEDUPED.match(text)
        if deduped and deduped.group(1) in names:
            return None  # a repeated header renamed "X_1" (or a real "X_1" beside "X")
    if not any(headers):
        return None
    column = pa.array(headers, type=pa.string())
    if pc.any(pc.match_substring_regex(column, _FX_HEADER_SUSPECT)).as_py():
        return None
    return headers


def _resolve_suspects(text: pa.Array, mask: pa.Array, numbers: pa.Array) -> pa.Array | None:
    """A text column's suspect cells settled with the same column read as numbers, or None.

    ``numbers`` holds what calamine makes of each cell as a number (number cells as they are,
    text cells parsed, null when not a number). A null means the cell was text; when our text
    of the number equals the cell's text either reading gives the same; a number that differs
    from the text's own value was a number cell (text parses to exactly its value), so ours
    replaces fastexcel's 9-decimal text. Date-like text (a date cell is null as a number), and
    text that reads as a number whose text would differ (``1234567.123456789``), stay
    undecidable: None.
    """
    rows = np.nonzero(mask.to_numpy(zero_copy_only=False))[0]
    cells = text.take(pa.array(rows))
    if pc.any(pc.match_substring_regex(cells, _FX_DATED)).as_py():
        return None  # a date cell reads as null among numbers: no telling it from text
    values = numbers.take(pa.array(rows)).to_numpy(zero_copy_only=False)
    known = ~np.isnan(values)
    if not known.any():
        return text
    ours = float_texts(np.where(known, values, np.nan))
    given = np.asarray(cells.to_numpy(zero_copy_only=False), dtype=object)
    differs = known & (ours != given)
    if not differs.any():
        return text
    own = pc.cast(cells.filter(pa.array(differs)), pa.float64()).to_numpy(zero_copy_only=False)
    if (own == values[differs]).any():
        return None
    out = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    out[rows[differs]] = ours[differs]
    return pa.array(out, type=pa.string())


def _zero_one_rows(column: pa.Array) -> np.ndarray:
    """Rows (0-based) of a numeric column holding 0 or 1, which may have been boolean cells."""
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return np.zeros(0, dtype=np.int64)
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.flatnonzero((values == 0.0) | (values == 1.0))


def _fast_column_text(column: pa.Array) -> pa.Array | None:
    """One typed Arrow column as the calamine path's text (nulls as ""), or None if unsure."""
    kind = column.type
    if pa.types.is_null(kind):
        return pa.array([""] * len(column), type=pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.fill_null(column.cast(pa.string()), "")  # suspects: _resolve_suspects
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "true", "false"), "")
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        if pa.types.is_floating(kind) and pc.any(pc.is_nan(column)).as_py():
            return None  # text "nan"/"NaN" among numbers: fastexcel parsed it as a number
        if pa.types.is_integer(kind):
            return pc.fill_null(column.cast(pa.string()), "")
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return pa.array(float_texts(values), type=pa.string())
    if pa.types.is_timestamp(kind) and kind.tz is None:
        ms = column.cast(pa.timestamp("ms")).cast(pa.int64())
        present = ms.drop_null().to_numpy()
        if len(present) and (present.min() < _MS_1900_03_01 or (present % 1000).any()):
            return None
        seconds = column.cast(pa.timestamp("ms")).cast(pa.timestamp("s"))
        midnight = pc.equal(pc.multiply(pc.divide(ms, _MS_PER_DAY), _MS_PER_DAY), ms)
        text = pc.if_else(
            midnight,
            pc.strftime(seconds, "%Y-%m-%d"),
            pc.strftime(seconds, "%Y-%m-%dT%H:%M:%S"),
        )
        return pc.fill_null(text, "")
    return None  # dates from ISO cells, durations: left to the calamine path


def _plain_ascii_type(kind: pa.DataType) -> bool:
    """Columns whose text we made from numbers, booleans or dates (nothing to clean)."""
    return bool(
        pa.types.is_floating(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_null(kind)
    )


def _trailing_blank_cut(texts: Sequence[pa.Array], n_rows: int) -> int:
    """Rows up to the last one with any non-empty cell (trailing empty rows are not data)."""
    if not texts or n_rows == 0:
        return 0
    filled = np.zeros(n_rows, dtype=bool)
    for text in texts:
        filled |= np.asarray(pc.greater(pc.binary_length(text), 0).to_numpy(zero_copy_only=False))
    last = np.nonzero(filled)[0]
    return int(last[-1]) + 1 if len(last) else 0


def _read_openpyxl(path: Path, options: ReadOptions) -> tuple[str, list[list[Any]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        raise InputError(f"cannot be read as a workbook: {exc}", path=str(path)) from exc
    try:
        names = wb.sheetnames
        sheet = options.sheet
        if sheet is None:
            for name in names:
                rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
                if any(any(c not in ("", None) for c in r) for r in rows):
                    return name, rows
            raise InputError("has no sheet with any data", path=str(path))
        if isinstance(sheet, int) or str(sheet).isdigit():
            index = int(sheet)
            if not 0 <= index < len(names):
                raise InputError(f"has no sheet number {index}", path=str(path))
            name = names[index]
        elif sheet in names:
            name = str(sheet)
        else:
            raise InputError(f"has no sheet named {sheet!r}", path=str(path))
        return name, [list(r) for r in wb[name].iter_rows(values_only=True)]
    finally:
        wb.close()


def _table_from_rows(
    path: Path, fmt: str, sheet: str, rows: list[list[Any]], options: ReadOptions
) -> Table:
    h = options.header_row
    if len(rows) < h or not any(c not in ("", None) for c in rows[h - 1]):
        raise InputError(
            f"sheet {sheet!r} has no header on row {h} (use --header-row if the header is "
            "lower down, --sheet for another sheet)",
            path=str(path),
        )
    header_cells = rows[h - 1]
    data = rows[h:]
    # Trailing empty rows are not part of the sheet's data.
    while data and not any(c not in ("", None) for c in data[-1]):
        data.pop()
    lengths = set(map(len, data))
    width = max([len(header_cells), *lengths])
    check_columns(width, path)
    headers = [cell_to_text(c) for c in header_cells] + [""] * (width - len(header_cells))
    if lengths - {width}:
        data = [list(r) + [""] * (width - len(r)) for r in data]
    columns: list[TextColumn] = []
    grid = np.empty((len(data), width), dtype=object)
    if data:
        grid[:] = data  # one C-level copy; zip(*data) is slow with 100,000 rows
    for j in range(width):
        cells = grid[:, j]
        columns.append(TextColumn(clean_array(pa.array(column_text(cells), type=pa.string()))))
    return Table(
        path=path,
        format=fmt,
        sheet=sheet,
        headers=headers,
        columns=list(columns),
        row_numbers=range(h + 1, h + 1 + len(data)),
    )
