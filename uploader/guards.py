"""Input-safety checks run before a file is parsed: refuse what would hang, explode or mislead.

The reader trusts its parsers (pyarrow, calamine, openpyxl) with ordinary files; these checks stand
in front of them for hostile ones, each cheap next to the parse it protects and each ending in one
:class:`~uploader.errors.InputError` line that says what is wrong and what to do:

- not a regular file (a pipe, a device such as ``/dev/zero``): reading it would never end;
- content that contradicts the name (an ``.xls`` called ``.csv``, CSV text called ``.xlsx``);
- a password-protected workbook (an encrypted OLE container where a zip should be);
- zip bombs: a member inflating past :data:`MAX_MEMBER_BYTES`, or much more than its compressed
  size, or all members past :data:`MAX_TOTAL_BYTES`; sizes are checked as declared *and* as
  actually inflated (a lying central directory is caught by the stream);
- XML ``<!DOCTYPE``/``<!ENTITY`` in any workbook part (billion laughs, external entities):
  spreadsheets never need them;
- text with a line longer than :data:`MAX_LINE_BYTES` (a 50 MB cell), a quote that never closes
  (everything after it would silently become one cell), or two encodings in one file;
- more than :data:`MAX_COLUMNS` columns (Excel's own limit);
- formula cells without a saved result (written by a program, never calculated) are not
  refused (they read as empty, as the reader documents) but logged as a warning that says why.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from uploader.errors import InputError

log = logging.getLogger("uploader")

__all__ = [
    "MAX_COLUMNS",
    "MAX_LINE_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "check_columns",
    "check_file",
    "check_text",
]

MAX_COLUMNS = 16_384  # Excel's widest sheet (column XFD)
MAX_LINE_BYTES = 8 * 1024 * 1024  # one CSV line; no contact row is anywhere near this
MAX_MEMBER_BYTES = 1024 * 1024 * 1024  # one inflated workbook part
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024  # all inflated workbook parts together
MAX_RATIO = 200  # inflated : compressed, for parts above RATIO_FLOOR
RATIO_FLOOR = 32 * 1024 * 1024  # small parts may compress as well as they like

_ZIP = b"PK\x03\x04"
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_ZIP_FORMATS = {".xlsx": "xlsx", ".xlsm": "xlsm", ".ods": "ods", ".xlsb": "xlsb"}
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".tab"}
_CHUNK = 1 << 20
#: Bytes no text file has in bulk: C0 controls other than tab, newlines, form feed and ESC.
_BINARY = np.array([*range(0, 9), *range(14, 27), *range(28, 32)], dtype=np.uint8)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


def check_file(path: Path) -> None:
    """Refuse non-files, disguised formats, encrypted workbooks and zip/XML bombs.

    Called by :func:`uploader.reader.read_table` once the path is known to exist and not to be
    a folder; reads at most a few bytes for text files.
    """
    where = str(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"cannot be opened: {exc.strerror or exc}", path=where) from exc
    if not stat.S_ISREG(mode):
        raise InputError(
            "is not a regular file (a pipe, device or socket); save the data to a file first",
            path=where,
        )
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise InputError(f"cannot be opened: {exc.strerror or exc}", path=where) from exc
    suffix = path.suffix.lower()
    if head.startswith(_CFB):
        if _is_encrypted(path):
            raise InputError(
                "is password-protected (encrypted); open it in Excel, remove the password "
                "(File > Info > Protect Workbook) and save it again",
                path=where,
            )
        if suffix in _TEXT_SUFFIXES:
            raise InputError(
                f"is an Excel 97-2003 workbook, not {suffix[1:].upper()} text; rename it to .xls",
                path=where,
            )
    if head.startswith(_ZIP):
        if suffix in _TEXT_SUFFIXES:
            raise InputError(
                f"is a zipped workbook (xlsx or ods), not {suffix[1:].upper()} text; "
                "rename it to .xlsx (or .ods)",
                path=where,
            )
        _check_zip(path)
    elif suffix in _ZIP_FORMATS and head and not head.startswith(_CFB) and _looks_text(head):
        raise InputError(
            f"is plain text, not an {_ZIP_FORMATS[suffix]} workbook; rename it to .csv",
            path=where,
        )


def _looks_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text.lstrip("\ufeff"))


def _is_encrypted(path: Path) -> bool:
    """An OLE container with an ``EncryptedPackage`` stream is an encrypted OOXML workbook."""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if _ENCRYPTED in chunk:
                return True
    return False


def _check_zip(path: Path) -> None:
    """Declared and actual inflated sizes of every part, and no DTDs in any XML part."""
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a readable zip: the workbook reader says so in its own words
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        for info in infos:
            _check_member_size(where, info.filename, info.file_size, info.compress_size)
        if total > MAX_TOTAL_BYTES:
            raise InputError(
                f"would inflate to {_size(total)} (more than {_size(MAX_TOTAL_BYTES)}); "
                "refused as a possible zip bomb",
                path=where,
            )
        inflated = 0
        for info in infos:
            if info.is_dir():
                continue
            inflated += _scan_member(zf, info, where)
            if inflated > MAX_TOTAL_BYTES:
                raise InputError(
                    f"inflates to more than {_size(MAX_TOTAL_BYTES)}; refused as a possible "
                    "zip bomb",
                    path=where,
                )


def _check_member_size(where: str, name: str, size: int, compressed: int) -> None:
    if size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
        raise InputError(
            f"part {name} inflates from {_size(compressed)} to {_size(size)} "
            f"({size // max(compressed, 1):,}:1); refused as a possible zip bomb",
            path=where,
        )
    if size > MAX_MEMBER_BYTES:
        raise InputError(
            f"part {name} inflates to {_size(size)} (more than "
            f"{_size(MAX_MEMBER_BYTES)}); refused as a possible zip bomb",
            path=where,
        )


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> int:
    """Inflate one part as a stream (never more than it declared) and look for DTDs."""
    xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    sheet = info.filename.lower().startswith("xl/worksheets/")
    warned = False
    read = 0
    tail = b""
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                read += len(chunk)
                if read > info.file_size:  # the stream outgrew its declared size
                    raise InputError(
                        f"part {info.filename} inflates past its declared size; refused as "
                        "a possible zip bomb",
                        path=where,
                    )
                _check_member_size(where, info.filename, read, info.compress_size)
                if xml:
                    window = tail + chunk
                    if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                        raise InputError(
                            f"part {info.filename} declares an XML DOCTYPE or ENTITY (an "
                            "entity bomb or external entity); spreadsheets never need one, "
                            "so the file is refused",
                            path=where,
                        )
                    if sheet and not warned and b"</f>" in window:
                        cell = _uncached_formula(window)
                        if cell is not None:
                            warned = True
                            log.warning(
                                "%s: cell %s of %s holds a formula with no saved result (the "
                                "file was written by a program, never opened in a spreadsheet "
                                "app), so it reads as empty; open and save the file in Excel or "
                                "LibreOffice to store the results",
                                where,
                                cell,
                                info.filename,
                            )
                    tail = chunk[-256:]
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        # e.g. a central directory that understates a part's size: the checksum gives it away
        raise InputError(
            f"part {info.filename} is damaged ({exc}); save the workbook again",
            path=where,
        ) from exc
    except (OSError, NotImplementedError):
        return read  # an unsupported compression method: the workbook reader decides
    return read


#: A formula cell with no saved result: ``<f>..</f></c>`` or openpyxl's ``<f>..</f><v /></c>``.
#: (``<v></v>`` is a saved empty-text result, which Excel writes; it is left alone.)
_UNCACHED = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*>\s*<f[^>]*>[^<]*</f>\s*(?:<v\s*/>)?\s*</c>'
)


def _uncached_formula(window: bytes) -> str | None:
    """The first formula cell with no saved result in this stretch of sheet XML, if any."""
    match = _UNCACHED.search(window)
    return None if match is None else (match.group(1) + match.group(2)).decode()


# --------------------------------------------------------------------------------------- text


def check_text(data: bytes, path: Path, encoding: str | None = None) -> None:
    """Refuse text the CSV parser would misread: giant lines, an unclosed quote, mixed encodings.

    Byte-level and vectorised; a clean 1,000,000-row file costs a few milliseconds. UTF-16/32
    text (BOM or NUL bytes) and files with an explicit ``--encoding`` skip the byte checks.
    """
    head = data[:4096]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(0) > max(
        2, len(head) // 10
    ):
        return  # UTF-16/32 or binary: the decoder decides
    where = str(path)
    control = int(np.isin(np.frombuffer(head, dtype=np.uint8), _BINARY).sum())
    if control >= 64 and control > len(head) // 16:
        raise InputError(
            f"looks binary ({100 * control // len(head)}% control bytes in its first 4 KiB), "
            "not like CSV text; is it really a CSV?",
            path=where,
        )
    if len(data) > MAX_LINE_BYTES:
        _check_line_lengths(data, where)
    if encoding is None and not data.isascii():
        _check_one_encoding(data, where)
    if data.count(b'"') % 2:
        _check_quotes(data, where)


def _line_of(data: bytes, offset: int) -> int:
    """1-based physical line number of byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _check_line_lengths(data: bytes, where: str) -> None:
    arr = np.frombuffer(data, dtype=np.uint8)
    longest, start, line = 0, 0, 0
    base = 0
    lines_before = 0
    for lo in range(0, len(arr), 64 * _CHUNK):
        block = arr[lo : lo + 64 * _CHUNK]
        ends = np.flatnonzero(block == 10) + lo
        if len(ends):
            bounds = np.concatenate(([base], ends + 1))
            lengths = np.diff(bounds)
            i = int(np.argmax(lengths))
            if lengths[i] > longest:
                longest, start, line = int(lengths[i]), int(bounds[i]), lines_before + i + 1
            base = int(ends[-1]) + 1
            lines_before += len(ends)
    if len(data) - base > longest:
        longest, start, line = len(data) - base, base, lines_before + 1
    if longest <= MAX_LINE_BYTES:
        return
    # The biggest gap between delimiters is the giant cell (quotes ignored: good enough to
    # name the column, and no copy of the line is made).
    first_nl = data.find(b"\n")
    header = data[: first_nl if first_nl != -1 else 65536][:65536]
    delimiter = max(b",;\t|", key=lambda d: header.count(bytes([d])))
    line_bytes = arr[start : start + longest]
    while len(line_bytes) and line_bytes[-1] in (10, 13):
        line_bytes = line_bytes[:-1]
    cuts = np.concatenate(([-1], np.flatnonzero(line_bytes == delimiter), [len(line_bytes)]))
    gaps = np.diff(cuts) - 1
    j = int(np.argmax(gaps))
    names = header.decode("utf-8", "replace").split(chr(delimiter)) if line > 1 else []
    column = names[j].strip() if j < len(names) and names[j].strip() else f"#{j + 1}"
    raise InputError(
        f"holds a cell of {int(gaps[j]):,} bytes (rows over {_size(MAX_LINE_BYTES)} are "
        "refused; a contact field is never this long)",
        path=where,
        row=line,
        column=column,
    )


def _check_one_encoding(data: bytes, where: str) -> None:
    raw = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    skip = len(data) - len(raw)
    try:
        raw.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        bad = exc.start
    highs = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8, count=bad) >= 0x80)
    first_high = int(highs[0]) if len(highs) else None
    if first_high is None:
        # cp1252 from the first accent; UTF-8 later shows as "Ã" + continuation byte.
        later = raw.find(b"\xc3", bad)
        while later != -1 and not (later + 1 < len(raw) and 0x80 <= raw[later + 1] <= 0xBF):
            later = raw.find(b"\xc3", later + 1)
        if later == -1:
            return
        utf8_at, other_at = later, bad
    else:
        utf8_at, other_at = first_high, bad
    utf8_line = _line_of(data, utf8_at + skip)
    other_line = _line_of(data, other_at + skip)
    raise InputError(
        f"mixes text encodings: line {utf8_line} is UTF-8 but line {other_line} is not "
        f"(byte 0x{raw[other_at]:02X}); save the whole file again as UTF-8, or pass --encoding",
        path=where,
        row=other_line,
    )


def _check_quotes(data: bytes, where: str) -> None:
    """An odd number of quotes: find the field whose quote never closes, if there is one."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    first = text[: text.find("\n")] if "\n" in text else text
    delimiter = max(",;\t|", key=lambda d: first.count(d))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    start = 1
    try:
        while True:
            start = reader.line_num + 1
            try:
                next(reader)
            except StopIteration:
                return
    except csv.Error as exc:
        if "end of data" not in str(exc):
            return  # some other oddity: the reader decides
    finally:
        csv.field_size_limit(limit)
    raise InputError(
        'has a quote (") that is never closed, so every line after it would be read as one '
        "cell; close or remove the quote",
        path=where,
        row=start,
    )


def check_columns(count: int, path: Path) -> None:
    """Refuse a sheet wider than Excel allows (a malformed or machine-made file)."""
    if count > MAX_COLUMNS:
        raise InputError(
            f"has {count:,} columns; at most {MAX_COLUMNS:,} are read (Excel's own limit)",
            path=str(path),
        )
