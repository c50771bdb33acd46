"""Read one spreadsheet (CSV/TSV/TXT, XLSX/XLSM/XLS/ODS) into a column-major :class:`Table` of text.

Every cell becomes text the way a person reads it in the spreadsheet: whole numbers as their digits
(``5125551234``, never ``5125551234.0`` or ``5.13E+09``), dates as ISO ``YYYY-MM-DD`` (or
``YYYY-MM-DDTHH:MM:SS``), booleans ``true``/``false``, formulas as their cached value, empty
cells as ``""``. Text is cleaned once, column by column: control characters other than newline
and tab are removed, then NFC normalisation, then trimming (:mod:`uploader.cells`).

:func:`read_table` picks the format from the suffix (or the first bytes) and dispatches.
CSV is read here: pyarrow's multi-threaded reader after encoding detection (BOMs, UTF-8, then
cp1252/latin-1) and delimiter sniffing; ragged files fall back to the standard ``csv`` module.
Workbooks are read by :mod:`uploader.workbook`: an ``.xlsx``/``.xlsm`` sheet first through
fastexcel, which steps aside whenever its type inference could make any cell's text differ, then
the Rust calamine reader (openpyxl for the rare ``.xlsx`` calamine refuses). Foreign exceptions
are translated into :class:`~uploader.errors.InputError` in these two modules, and only there.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import logging
from pathlib import Path

import pyarrow as pa

from uploader.cellref import column_letter
from uploader.cells import (
    TextColumn,
    as_arrow,
    cell_to_text,
    clean_array,
    clean_text,
)
from uploader.cells import column_text as _column_text  # noqa: F401  (tests import it from here)
from uploader.config import ReadOptions
from uploader.errors import InputError
from uploader.guards import check_columns, check_file, check_text
from uploader.models import Table
from uploader.workbook import _boolean_cells_among as _boolean_cells_among  # for the tests
from uploader.workbook import read_workbook_calamine as _read_workbook_calamine
from uploader.workbook import read_xlsx_fast as _read_xlsx_fast

__all__ = [
    "TEXT_FORMATS",
    "WORKBOOK_FORMATS",
    "TextColumn",
    "as_arrow",
    "cell_to_text",
    "clean_array",
    "clean_text",
    "column_letter",
    "decode_text",
    "read_table",
    "sniff_delimiter",
]

log = logging.getLogger("uploader")

TEXT_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv"}
WORKBOOK_FORMATS = {".xlsx": "xlsx", ".xlsm": "xlsm", ".xls": "xls", ".ods": "ods", ".xlsb": "xlsb"}
_DELIMITERS = (",", ";", "\t", "|")


# --------------------------------------------------------------------------------------- text


def decode_text(
    data: bytes, encoding: str | None, path: Path, *, try_utf8: bool = True
) -> tuple[str, str]:
    """Bytes to text: explicit encoding, else BOM, else UTF-8, else cp1252, else latin-1."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError as exc:
            raise InputError(f"unknown encoding {encoding!r}", path=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"cannot be decoded as {encoding} (byte {exc.start}); try another --encoding",
                path=str(path),
            ) from exc
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, name in boms:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"starts with a {name} byte-order mark but is not valid {name} "
                    f"(byte {exc.start})",
                    path=str(path),
                ) from exc
    if _mostly_nul(data):
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        for name in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(name)
            except UnicodeDecodeError:
                continue
            if "\x00" not in text[:2048]:
                return text, name
        raise InputError(
            "looks binary (contains NUL bytes) and is not UTF-16 text; is it really a CSV?",
            path=str(path),
        )
    if try_utf8:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _mostly_nul(data: bytes) -> bool:
    """UTF-16 without BOM or a binary file: NUL bytes are common, not a stray one or two."""
    head = data[:4096]
    return head.count(0) > max(2, len(head) // 10)


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """Pick the delimiter among , ; tab | that splits the first lines most consistently."""
    # Only \r and \n end a CSV line (str.splitlines also splits on \x85, \u2028, \x0c...).
    lines = sample.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a sample may be cut short
    if not lines:
        return default
    best = default
    best_score: tuple[float, int, int] = (-1.0, 0, 0)
    text = "\n".join(lines)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        head = counts[0]
        consistent = sum(1 for c in counts if c == head) / len(counts)
        score = (consistent, head, -_DELIMITERS.index(delim))
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_text(path: Path, fmt: str, options: ReadOptions) -> Table:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot be opened: {exc.strerror or exc}", path=str(path)) from exc
    check_text(data, path, options.encoding)
    return _read_text_data(path, fmt, options, data)


def _read_text_data(path: Path, fmt: str, options: ReadOptions, data: bytes) -> Table:
    """Header with the csv module, body with pyarrow (UTF-8 bytes passed through untouched)."""
    head, encoding, body_text = _decode_head(data, options.encoding, path)
    delimiter = options.delimiter
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    if not delimiter:
        delimiter = sniff_delimiter(head[:65536], "\t" if fmt == "tsv" else ",")
    if len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}", path=str(path))

    # The header row (and title rows above it) are parsed with the csv module, which tells how
    # many physical lines they span; the data below goes to pyarrow in one piece.
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    try:
        for _ in range(options.header_row):
            header = next(reader, None)
            if header is None:
                break
    except csv.Error as exc:
        raise InputError(f"is not readable as CSV: {exc}", path=str(path)) from exc
    if header is None or not any(h.strip() for h in header):
        raise InputError(
            f"has no header on row {options.header_row} (use --header-row if the header is "
            "lower down)",
            path=str(path),
        )
    check_columns(len(header), path)
    offset = _line_offset(head, reader.line_num)
    body: bytes | memoryview
    if body_text is None:  # UTF-8 on disk: hand pyarrow the bytes as they are
        bom = 3 if data.startswith(codecs.BOM_UTF8) else 0
        body = memoryview(data)[bom + len(head[:offset].encode("utf-8")) :]
    else:
        body = body_text[offset:].encode("utf-8")
    try:
        columns = _parse_csv_body(body, delimiter, len(header), path)
    except _NotUtf8:
        # The first megabyte was UTF-8 but the rest is not: decode it all as cp1252/latin-1.
        text, encoding = decode_text(data, None, path, try_utf8=False)
        table = _read_text_data(
            path, fmt, dataclasses.replace(options, encoding="utf-8"), text.encode("utf-8")
        )
        table.encoding = encoding
        return table
    if len(columns) > len(header):
        header = header + [""] * (len(columns) - len(header))
    headers = [h.replace("\ufeff", "") for h in header]
    n_rows = len(columns[0]) if columns else 0
    first = options.header_row + 1
    return Table(
        path=path,
        format=fmt,
        sheet=None,
        headers=headers,
        columns=[TextColumn(clean_array(c)) for c in columns],
        row_numbers=range(first, first + n_rows),
        encoding=encoding,
        delimiter=delimiter,
    )


class _NotUtf8(Exception):
    """pyarrow found invalid UTF-8 past the sample we checked."""


_HEAD_BYTES = 1 << 20


def _decode_head(data: bytes, encoding: str | None, path: Path) -> tuple[str, str, str | None]:
    """(text of the first megabyte or so, encoding, whole text or None when the body is UTF-8).

    For UTF-8 files only the head is decoded here (pyarrow checks the rest as it parses), so a
    large file is not decoded and re-encoded for nothing.
    """
    plain_utf8 = encoding is not None and encoding.replace("_", "-").lower() in ("utf-8", "utf8")
    looks_utf8 = encoding is None and not data.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)
    )
    if (plain_utf8 or looks_utf8) and not _mostly_nul(data):
        raw = data[3:] if data.startswith(codecs.BOM_UTF8) else data
        cut = len(raw) if len(raw) <= _HEAD_BYTES else raw.rfind(b"\n", 0, _HEAD_BYTES) + 1
        try:
            head = raw[: cut or _HEAD_BYTES].decode("utf-8")
        except UnicodeDecodeError as exc:
            if plain_utf8:
                raise InputError(
                    f"cannot be decoded as {encoding} (byte {exc.start}); try another --encoding",
                    path=str(path),
                ) from exc
        else:
            name = "utf-8-sig" if raw is not data else "utf-8"
            return head, name, None
    text, name = decode_text(data, encoding, path, try_utf8=False)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, name, text


def _line_offset(text: str, lines: int) -> int:
    """Character offset just after the first ``lines`` physical lines (\\n, \\r\\n or \\r)."""
    pos = 0
    for _ in range(lines):
        nl = text.find("\n", pos)
        cr = text.find("\r", pos)
        if cr != -1 and (nl == -1 or cr < nl):
            pos = cr + 2 if text.startswith("\r\n", cr) else cr + 1
        elif nl != -1:
            pos = nl + 1
        else:
            return len(text)
    return pos


def _parse_csv_body(
    body: bytes | memoryview, delimiter: str, width: int, path: Path
) -> list[pa.ChunkedArray | pa.Array]:
    """Data rows as Arrow string columns; pyarrow first, the csv module for ragged files."""
    import pyarrow.csv as pacsv

    if len(body) < 65536 and not bytes(body).strip(b"\r\n"):
        return [pa.array([], type=pa.string()) for _ in range(width)]
    names = [f"c{i}" for i in range(width)]
    # Quoted fields may hold newlines; without any quote the faster splitter is exact.
    # (bytes.find is a memchr; "in" on a memoryview would walk it item by item)
    whole = body.obj if isinstance(body, memoryview) else body
    quoted = (whole if isinstance(whole, bytes) else bytes(body)).find(b'"') != -1
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body)),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=quoted, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            raise _NotUtf8(str(exc)) from exc
        log.debug("pyarrow could not parse %s (%s); using the csv module", path, exc)
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as decode_exc:
            raise _NotUtf8(str(decode_exc)) from decode_exc
        return _parse_csv_python(text, delimiter, width, path)
    return [table.column(i) for i in range(width)]


def _parse_csv_python(body: str, delimiter: str, width: int, path: Path) -> list[pa.Array]:
    rows: list[list[str]] = []
    try:
        rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"is not readable as CSV: {exc}", path=str(path)) from exc
    width = max([width, *(len(r) for r in rows)])
    cols: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        for j in range(width):
            cols[j].append(row[j] if j < len(row) else "")
    return [pa.array(c, type=pa.string()) for c in cols]


# ----------------------------------------------------------------------------------- workbooks


def _read_workbook(path: Path, fmt: str, options: ReadOptions) -> Table:
    """The fast xlsx path when it accepts the sheet, else the exact calamine path.

    Both are looked up in this module (bench/bench_xlsx_read.py swaps ``_read_xlsx_fast`` here to
    time the calamine path alone).
    """
    if fmt in ("xlsx", "xlsm"):
        table = _read_xlsx_fast(path, fmt, options)
        if table is not None:
            return table
    return _read_workbook_calamine(path, fmt, options)


def read_table(path: Path, options: ReadOptions | None = None) -> Table:
    """Read one file into a :class:`Table` of cleaned text (blank rows kept)."""
    options = options or ReadOptions()
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file", path=str(path))
    check_file(path)
    suffix = path.suffix.lower()
    if suffix in TEXT_FORMATS:
        return _read_text(path, TEXT_FORMATS[suffix], options)
    if suffix in WORKBOOK_FORMATS:
        return _read_workbook(path, WORKBOOK_FORMATS[suffix], options)
    with path.open("rb") as f:  # the first bytes only, not the whole file
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _read_workbook(path, "xlsx", options)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return _read_workbook(path, "xls", options)
    return _read_text(path, "csv", options)
