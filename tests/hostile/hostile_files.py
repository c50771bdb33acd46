"""Hostile input files, written at test time into a temporary folder (nothing binary is committed).

Each ``make_*`` function writes one file that tries to break the reader (a bomb, a lie about its
format, a pathological shape) and returns its path. Real writers make the real formats
(openpyxl, xlsxwriter, msoffcrypto-tool); the malicious parts (bombs, truncation, garbage) are
crafted byte by byte here, because no honest writer produces them.
"""

from __future__ import annotations

import codecs
import os
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "HOSTILE",
    "make",
    "minimal_xlsx_parts",
    "write_xlsx_parts",
]

#: A header row the validator maps without help: target, reference id, one variable.
HEADER = "phone,reference_id,first_name"
GOOD_ROWS = ["+15125550101,r1,Ann", "+15125550102,r2,Bob"]


def _text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def minimal_xlsx_parts(sheet_xml: str, shared: str | None = None) -> dict[str, bytes]:
    """The smallest set of parts Excel, calamine and openpyxl accept as a one-sheet workbook."""
    rels_shared = (
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/>'
        if shared is not None
        else ""
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            + (
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                if shared is not None
                else ""
            )
            + "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            + rels_shared
            + "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    out = {name: text.encode("utf-8") for name, text in parts.items()}
    if shared is not None:
        out["xl/sharedStrings.xml"] = shared.encode("utf-8")
    return out


def write_xlsx_parts(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _sheet(rows: list[list[str]]) -> str:
    """Inline-string sheet XML for ``rows`` (no shared strings needed)."""
    out = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{chr(65 + c)}{r}" t="inlineStr"><is><t>{value}</t></is></c>'
            for c, value in enumerate(row)
        )
        out.append(f'<row r="{r}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(out)}</sheetData></worksheet>"
    )


def _workbook(rows: list[list[str | None]], title: str | None = None) -> Any:
    """An openpyxl workbook whose active sheet (named ``title``) holds ``rows``."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.title = title
    for row in rows:
        ws.append(row)
    return wb


def _saved(wb: Any, path: Path) -> Path:
    wb.save(path)
    return path


def _good_rows() -> list[list[str | None]]:
    """HEADER and GOOD_ROWS as cells."""
    return [line.split(",") for line in (HEADER, *GOOD_ROWS)]


def _good_xlsx(path: Path) -> Path:
    return _saved(_workbook(_good_rows(), "Contacts"), path)


# ------------------------------------------------------------------------------ the files


def make_empty(d: Path) -> Path:
    return _text(d / "empty.csv", "")


def make_header_only(d: Path) -> Path:
    return _text(d / "header_only.csv", HEADER + "\n")


def make_bom_only(d: Path) -> Path:
    path = d / "bom_only.csv"
    path.write_bytes(codecs.BOM_UTF8)
    return path


def make_blank_rows_only(d: Path) -> Path:
    return _text(d / "blank_rows.csv", HEADER + "\n" + ",,\n" * 5 + "\n\n")


def make_blank_header(d: Path) -> Path:
    return _text(d / "blank_header.csv", ",,\n" + "\n".join(GOOD_ROWS) + "\n")


def make_random_bytes_xlsx(d: Path) -> Path:
    path = d / "random.xlsx"
    path.write_bytes(random.Random(8).randbytes(4096))
    return path


def make_truncated_xlsx(d: Path) -> Path:
    full = _good_xlsx(d / "whole.xlsx").read_bytes()
    path = d / "truncated.xlsx"
    path.write_bytes(full[: len(full) // 2])
    (d / "whole.xlsx").unlink()
    return path


def make_zip_not_xlsx(d: Path) -> Path:
    path = d / "plain_zip.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a workbook")
    return path


def _bomb(path: Path, mib: int, *, zip64: bool) -> Path:
    """A one-sheet workbook whose sheet XML is ``mib`` MiB of spaces (deflates ~1,000:1).

    The same 1 MiB block is fed to the compressor ``mib`` times: writing costs about a second
    per GiB and a megabyte on disk, while opening it naively costs ``mib`` MiB.
    """
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row>'
    )
    tail = b"</sheetData></worksheet>"
    block = b" " * (1 << 20)
    parts = minimal_xlsx_parts(_sheet([["phone"]]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                zf.writestr(name, data)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=zip64) as out:
            out.write(head)
            for _ in range(mib):
                out.write(block)
            out.write(tail)
    return path


def make_zip_bomb(d: Path) -> Path:
    """A real bomb: the sheet XML inflates ~1,000:1 to 1 GiB of whitespace."""
    return _bomb(d / "zip_bomb.xlsx", 1024, zip64=True)


def make_lying_zip_bomb(d: Path) -> Path:
    """A bomb whose directory understates the sheet: it says 64 KiB, it inflates to 256 MiB."""
    path = _bomb(d / "lying_bomb.xlsx", 256, zip64=False)
    with zipfile.ZipFile(path) as zf:
        real = zf.getinfo("xl/worksheets/sheet1.xml").file_size
    data = path.read_bytes()
    old, new = struct.pack("<I", real), struct.pack("<I", 65536)
    assert data.count(old) == 2, "the size appears once in the local header, once in the directory"
    path.write_bytes(data.replace(old, new))
    return path


def make_entity_bomb(d: Path) -> Path:
    """Billion laughs in the shared strings: ten levels of ten, a 3 GB string if expanded."""
    levels = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        levels.append(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">')
    shared = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<!DOCTYPE sst [{''.join(levels)}]>"
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" '
        'uniqueCount="2"><si><t>phone</t></si><si><t>&lol9;</t></si></sst>'
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>'
    )
    return write_xlsx_parts(d / "entity_bomb.xlsx", minimal_xlsx_parts(sheet, shared))


def make_ods_entity_bomb(d: Path) -> Path:
    """Billion laughs in an OpenDocument spreadsheet's content.xml."""
    levels = ['<!ENTITY a0 "ha">'] + [
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<!DOCTYPE office:document-content [{''.join(levels)}]>"
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
        '<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell>'
        "<text:p>&a9;</text:p></table:table-cell></table:table-row></table:table>"
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    path = d / "entity_bomb.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def make_external_entity(d: Path) -> Path:
    """XXE: a sheet whose DOCTYPE pulls a local file into a cell."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    return write_xlsx_parts(d / "xxe.xlsx", minimal_xlsx_parts(sheet))


def make_password_xlsx(d: Path) -> Path:
    """A real Agile-encrypted workbook (what Excel's "Encrypt with password" writes)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _good_xlsx(d / "plain.xlsx")
    path = d / "password.xlsx"
    with plain.open("rb") as src, path.open("wb") as dst:
        OOXMLFile(src).encrypt("s3cret", dst)
    plain.unlink()
    return path


def _png() -> bytes:
    """A 1x1 red PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_images_only(d: Path) -> Path:
    import xlsxwriter

    png = d / "dot.png"
    png.write_bytes(_png())
    path = d / "images_only.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Logo")
    ws.insert_image("B2", str(png))
    wb.close()
    png.unlink()
    return path


def make_empty_workbook(d: Path) -> Path:
    return _saved(_workbook([]), d / "empty_workbook.xlsx")


def make_csv_nul_bytes(d: Path) -> Path:
    path = d / "nul.csv"
    path.write_bytes((HEADER + "\n+15125550101,r1,A\x00nn\n+15125550102,r2,Bob\n").encode())
    return path


def make_binary_garbage_csv(d: Path) -> Path:
    """Random bytes (NULs everywhere) with a .csv name."""
    path = d / "garbage.csv"
    path.write_bytes(random.Random(9).randbytes(8192))
    return path


def make_csv_nul_late(d: Path) -> Path:
    """NUL bytes only after the first 4 KiB (past any sniffing window)."""
    rows = [f"+1512555{i:04d},r{i},name{i}" for i in range(200)]
    rows.append("+15125559999,r-nul,bad\x00name")
    path = d / "nul_late.csv"
    path.write_bytes((HEADER + "\n" + "\n".join(rows) + "\n").encode())
    return path


def make_mixed_encodings(d: Path) -> Path:
    """UTF-8 for one row, cp1252 for the next: no single encoding reads both."""
    path = d / "mixed_enc.csv"
    path.write_bytes(
        (HEADER + "\n").encode()
        + "+15125550101,r1,Zoë\n".encode()
        + "+15125550102,r2,Zoë\n".encode("cp1252")
    )
    return path


def make_mixed_encodings_late(d: Path) -> Path:
    """A megabyte and more of UTF-8, then one cp1252 row (past the sniffed head)."""
    rows = [f"+1512555{i % 10000:04d},r{i},Zoë" for i in range(60_000)]
    path = d / "mixed_enc_late.csv"
    path.write_bytes(
        (HEADER + "\n" + "\n".join(rows) + "\n").encode()
        + "+15125559999,r-last,Zoë\n".encode("cp1252")
    )
    return path


def make_undecidable_delimiter(d: Path) -> Path:
    """Every line splits into the same number of fields on ',' and on ';'."""
    text = "phone;id,name;x\n+15125550101;r1,Ann;1\n+15125550102;r2,Bob;2\n"
    return _text(d / "undecidable.csv", text)


def make_hidden_sheet(d: Path) -> Path:
    wb = _workbook([["phone", "reference_id"], ["+15125550199", "hidden-1"]], "Lookup")
    wb.active.sheet_state = "hidden"
    ws = wb.create_sheet("Contacts")
    for row in _good_rows():
        ws.append(row)
    return _saved(wb, d / "hidden_sheet.xlsx")


def make_merged_cells(d: Path) -> Path:
    rows = [HEADER.split(","), ["+15125550101", "r1", "Ann"], [None, "r2", "Bob"]]
    wb = _workbook(rows)
    wb.active.merge_cells("A2:A3")  # one phone "shared" by two rows: only A2 holds a value
    return _saved(wb, d / "merged.xlsx")


def make_formulas_no_cache(d: Path) -> Path:
    """Formulas written by openpyxl carry no cached value: nothing to read without Excel."""
    rows = [
        HEADER.split(","),
        ['="+1512555"&"0101"', "r1", "Ann"],
        ['=CONCAT("+1","5125550102")', "r2", "Bob"],
    ]
    return _saved(_workbook(rows), d / "formulas.xlsx")


def make_big_cell(d: Path) -> Path:
    """A 50 MB value in one cell of an otherwise normal row."""
    path = d / "big_cell.csv"
    with path.open("wb") as f:
        f.write((HEADER + "\n+15125550101,r1,").encode())
        f.write(b"x" * (50 * 1024 * 1024))
        f.write(b"\n+15125550102,r2,Bob\n")
    return path


def make_many_columns(d: Path) -> Path:
    names = ["phone", "reference_id"] + [f"v{i}" for i in range(19_998)]
    row = ["+15125550101", "r1"] + ["x"] * 19_998
    return _text(d / "wide.csv", ",".join(names) + "\n" + ",".join(row) + "\n")


def make_duplicate_headers(d: Path) -> Path:
    names = ["phone", "reference_id"] + ["name"] * 1000
    row = ["+15125550101", "r1"] + ["x"] * 1000
    return _text(d / "dup_headers.csv", ",".join(names) + "\n" + ",".join(row) + "\n")


def make_long_header(d: Path) -> Path:
    names = ["phone", "reference_id", "n" * 100_000]
    return _text(d / "long_header.csv", ",".join(names) + "\n+15125550101,r1,x\n")


def make_utf16_no_bom(d: Path) -> Path:
    text = HEADER.replace(",", "\t") + "\n" + "\n".join(r.replace(",", "\t") for r in GOOD_ROWS)
    path = d / "utf16.tsv"
    path.write_bytes((text + "\n").encode("utf-16-le"))
    return path


def make_xls_named_csv(d: Path) -> Path:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Contacts")
    for r, line in enumerate([HEADER, *GOOD_ROWS]):
        for c, value in enumerate(line.split(",")):
            ws.write(r, c, value)
    path = d / "workbook.csv"
    wb.save(str(path))
    return path


def make_xlsx_named_csv(d: Path) -> Path:
    return _good_xlsx(d / "export.csv")


def make_csv_named_xlsx(d: Path) -> Path:
    return _text(d / "really_csv.xlsx", HEADER + "\n" + "\n".join(GOOD_ROWS) + "\n")


def make_directory(d: Path) -> Path:
    path = d / "folder.csv"
    path.mkdir()
    return path


def make_missing(d: Path) -> Path:
    return d / "missing.csv"


def make_fifo(d: Path) -> Path:
    """A named pipe: reading it blocks forever unless the reader refuses non-files."""
    path = d / "pipe.csv"
    os.mkfifo(path)
    return path


def make_device_link(d: Path) -> Path:
    """A symlink to /dev/zero: an endless file of NULs."""
    path = d / "zero.csv"
    path.symlink_to("/dev/zero")
    return path


def make_symlink_loop(d: Path) -> Path:
    path = d / "loop.csv"
    path.symlink_to(d / "loop.csv")
    return path


def make_unbalanced_quote(d: Path) -> Path:
    text = HEADER + '\n+15125550101,r1,"Ann\n+15125550102,r2,Bob\n'
    return _text(d / "unbalanced.csv", text)


def make_cr_only(d: Path) -> Path:
    return _text(d / "classic_mac.csv", "\r".join([HEADER, *GOOD_ROWS]) + "\r")


def make_json_named_csv(d: Path) -> Path:
    return _text(d / "export.txt", '{"contacts": [{"phone": "+15125550101"}]}\n')


def make_no_phone_column(d: Path) -> Path:
    return _text(d / "no_phone.csv", "name,email\nAnn,ann@example.com\n")


def make_million_rows(d: Path) -> Path:
    """1,000,000 good rows, then one bad phone number on the very last row."""
    path = d / "million.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER + "\n")
        chunk = 100_000
        for start in range(0, 1_000_000, chunk):
            f.write(
                "".join(f"+1512{2_000_000 + i:07d},r{i},n\n" for i in range(start, start + chunk))
            )
        f.write("not-a-phone,r-last,n\n")
    return path


#: name -> writer; the tests in test_hostile_inputs.py pin each one's exact outcome.
HOSTILE: dict[str, Callable[[Path], Path]] = {
    name.removeprefix("make_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("make_") and callable(fn)
}


def make(name: str, folder: Path) -> Path:
    """Write hostile file ``name`` into ``folder`` and return its path."""
    return HOSTILE[name](folder)
