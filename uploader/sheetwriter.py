"""Spreadsheet writers for reports: CSV/TSV, and streaming XLSX and ODS that cannot hold formulas.

Each writer takes the header and an iterator of rows, each row as ``(texts, typed)``: the input's
own cells (always text) and the cells the report adds (text, numbers or None). Rows are written
one at a time, so memory stays flat however long the sheet is.

- **CSV/TSV**: UTF-8 with BOM (Excel then reads accents right); a value a spreadsheet would run as a
  formula (leading ``=``, ``@``, tab, CR, LF, or ``+``/``-`` when it is not a plain number) gets a
  leading ``'`` as OWASP recommends, so ``+15125551234`` stays as it is.
- **XLSX**: a minimal SpreadsheetML package written with :mod:`zipfile`: inline strings
  (``t="inlineStr"``) and plain numbers only, so no cell can be a formula; bold frozen header,
  autofilter, column widths from the first rows, each row filled with its ``upload_status``
  colour, and a Summary sheet. Text is escaped the way Excel reads it (``_xHHHH_`` for control
  characters, ``&#13;`` for CR) and cut at Excel's 32,767 characters per cell.
- **ODS**: the same in OpenDocument, string cells (``office:value-type="string"``) only.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from uploader.cellref import column_letter

if TYPE_CHECKING:
    from uploader.models import ProgressCallback

__all__ = [
    "EXCEL_MAX_CHARS",
    "SHEET_MAX_COLUMNS",
    "SHEET_MAX_ROWS",
    "STATUS_COLOURS",
    "ReportRows",
    "SheetLayout",
    "is_number",
    "needs_zip64",
    "neutralise_csv_value",
    "sheet_name",
    "write_delimited",
    "write_ods",
    "write_sheet",
    "write_xlsx",
]

#: Rows as the writers take them: (the input's text cells, the report's added cells).
ReportRows = Iterator[tuple[list[str], list[Any]]]

EXCEL_MAX_CHARS = 32_767
SHEET_MAX_ROWS = 1_048_576
SHEET_MAX_COLUMNS = 16_384


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def needs_zip64(n_rows: int, n_columns: int, sample: list[list[str]]) -> bool:
    """Whether the sheet part may pass 2 GiB, judged from the first rows (with a wide margin).

    ZIP64 only when needed: it is what every spreadsheet reader copes with best.
    """
    avg_chars = sum(len(c) for row in sample for c in row) / len(sample) if sample else 0.0
    estimate = n_rows * (1.1 * avg_chars + 70 * n_columns + 30)  # ~70 bytes of XML per cell
    return estimate > 2_000_000_000  # zipfile's limit is 2**31 - 1; a miss is retried with ZIP64


# --------------------------------------------------------------------------------------------
# CSV / TSV
# --------------------------------------------------------------------------------------------

_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_csv_value(value: str) -> str:
    """OWASP CSV-injection defence: prefix ``'`` to anything a spreadsheet would evaluate.

    Values starting with ``=``, ``@``, tab, carriage return or line feed always; values starting
    with ``+``/``-`` unless they are a plain number (so ``+15125551234`` and ``-3.5`` stay).
    """
    if value and value[0] in _FORMULA_START:
        if value[0] in "+-" and _PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


def write_delimited(path: Path, header: list[str], rows: ReportRows, delimiter: str) -> int:
    safe = neutralise_csv_value
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([safe(h) for h in header])
        for cells, added in rows:
            writer.writerow([safe(c) for c in cells] + [safe(_text(a)) for a in added])
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# XLSX: a minimal streaming SpreadsheetML writer (inline strings; no formulas can exist)
# --------------------------------------------------------------------------------------------

_XML_SPECIAL = re.compile(
    "[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_"
)


def _xml_sub(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch == "&":
        return "&amp;"
    if ch == "<":
        return "&lt;"
    if ch == ">":
        return "&gt;"
    if ch == "\r":
        return "&#13;"  # a raw CR would be normalised to LF by any XML parser
    if len(ch) > 1:  # literal "_x0041_" text: escape its underscore so Excel keeps it as typed
        return "_x005F" + ch
    if "\ud800" <= ch <= "\udfff":
        return "\ufffd"
    return f"_x{ord(ch):04X}_"  # control characters XML 1.0 cannot carry (Excel's own escape)


def _xml_text(value: str) -> str:
    if len(value) > EXCEL_MAX_CHARS:
        value = value[:EXCEL_MAX_CHARS]
    if _XML_SPECIAL.search(value) is None:
        return value
    return _XML_SPECIAL.sub(_xml_sub, value)


STATUS_COLOURS: dict[str, str] = {
    "accepted": "FFC6EFCE",  # green
    "valid": "FFC6EFCE",
    "refused": "FFFFC7CE",  # red
    "rejected": "FFFFC7CE",
    "failed": "FFF8CBAD",  # orange
    "pending": "FFFFEB9C",  # yellow
    "blank": "FFD9D9D9",  # grey
}
_STATUS_STYLE = {status: 2 + i for i, status in enumerate(STATUS_COLOURS)}
_BOLD_STYLE = 1

_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OFFICE = "application/vnd.openxmlformats-officedocument."
_SML = _OFFICE + "spreadsheetml."
_PKG = "http://schemas.openxmlformats.org/package/2006/"
_ODR = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def _override(part: str, content_type: str) -> str:
    return f'<Override PartName="{part}" ContentType="{content_type}"/>'


def _relationship(rid: str, kind: str, target: str) -> str:
    return f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>'


_CONTENT_TYPES = (
    f'{_XML_DECL}<Types xmlns="{_PKG}content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    + _override("/xl/workbook.xml", _SML + "sheet.main+xml")
    + _override("/xl/worksheets/sheet1.xml", _SML + "worksheet+xml")
    + _override("/xl/worksheets/sheet2.xml", _SML + "worksheet+xml")
    + _override("/xl/styles.xml", _SML + "styles+xml")
    + _override("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml")
    + _override("/docProps/app.xml", _OFFICE + "extended-properties+xml")
    + "</Types>"
)
_ROOT_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_PKG}relationships">'
    + _relationship("rId1", _ODR + "officeDocument", "xl/workbook.xml")
    + _relationship("rId2", _PKG + "relationships/metadata/core-properties", "docProps/core.xml")
    + _relationship("rId3", _ODR + "extended-properties", "docProps/app.xml")
    + "</Relationships>"
)
_WORKBOOK_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_PKG}relationships">'
    + _relationship("rId1", _ODR + "worksheet", "worksheets/sheet1.xml")
    + _relationship("rId2", _ODR + "worksheet", "worksheets/sheet2.xml")
    + _relationship("rId3", _ODR + "styles", "styles.xml")
    + "</Relationships>"
)
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>syllable-bulk-uploader</Application></Properties>"
)
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _core_xml() -> str:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>syllable-bulk-uploader</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        "</cp:coreProperties>"
    )


def _styles_xml() -> str:
    fills = "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="{rgb}"/>'
        '<bgColor indexed="64"/></patternFill></fill>'
        for rgb in STATUS_COLOURS.values()
    )
    status_xfs = "".join(
        f'<xf numFmtId="0" fontId="0" fillId="{2 + i}" borderId="0" xfId="0" applyFill="1"/>'
        for i in range(len(STATUS_COLOURS))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{_MAIN_NS}">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        f'<fills count="{2 + len(STATUS_COLOURS)}"><fill><patternFill patternType="none"/></fill>'
        f'<fill><patternFill patternType="gray125"/></fill>{fills}</fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{2 + len(STATUS_COLOURS)}">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        f"{status_xfs}</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def sheet_name(name: str | None, avoid: str) -> str:
    """The input's sheet name when Excel allows it (31 chars, no []:*?/\\, not "History")."""
    cleaned = re.sub(r"[\[\]:*?/\\]", "_", (name or "").strip()).strip("'")[:31]
    if not cleaned or cleaned.casefold() in (avoid.casefold(), "history"):
        return "Report"
    return cleaned


def is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) < 1e15  # beyond 15 digits Excel would round: keep those as text
    )


def _column_widths(header: list[str], sample: list[list[str]]) -> list[float]:
    widths = [len(h) for h in header]
    for row in sample:
        for j, cell in enumerate(row):
            first_line = cell.split("\n", 1)[0]
            if len(first_line) > widths[j]:
                widths[j] = len(first_line)
    return [min(60.0, max(8.0, w * 1.1 + 2)) for w in widths]


def _xlsx_cell_xml(ref: str, value: Any, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if is_number(value):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    return (
        f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">'
        f"{_xml_text(str(value))}</t></is></c>"
    )


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """What the XLSX and ODS writers need besides the header and rows (CSV/TSV need none)."""

    n_rows: int  # rows to come (the autofilter range and progress totals)
    sample: list[list[str]]  # the first rows, for column widths
    summary_rows: Callable[[], list[tuple[Any, ...]]]  # the Summary sheet, asked for last
    sheet: str  # the rows' sheet name
    status_col: int  # 0-based column whose value colours the row
    progress: ProgressCallback | None = None
    zip64: bool = False


class _Chunks:
    """Rows' XML written 2,000 at a time (few large writes), with progress after each write."""

    def __init__(self, raw: IO[bytes], n_rows: int, progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.n_rows = n_rows
        self.progress = progress
        self.buf: list[str] = []
        self.count = 0

    def add(self, row_xml: str) -> None:
        self.buf.append(row_xml)
        self.count += 1
        if len(self.buf) >= 2000:
            self.flush()
            if self.progress is not None:
                self.progress("report", self.count, self.n_rows)

    def flush(self) -> None:
        self.raw.write("".join(self.buf).encode("utf-8"))
        self.buf.clear()


def write_xlsx(
    path: Path,
    header: list[str],
    rows: ReportRows,
    layout: SheetLayout,
) -> int:
    ncols = len(header)
    letters = [column_letter(j) for j in range(max(ncols, 3))]
    last = letters[ncols - 1]
    widths = _column_widths(header, layout.sample)
    text = _xml_text
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("docProps/app.xml", _APP)
        zf.writestr("docProps/core.xml", _core_xml())
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _styles_xml())
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            f'<sheet name={quoteattr(layout.sheet)} sheetId="1" r:id="rId1"/>'
            '<sheet name="Summary" sheetId="2" r:id="rId2"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"{text(_quote_sheet(layout.sheet))}!$A$1:${last}${layout.n_rows + 1}"
            "</definedName></definedNames>"
            "</workbook>",
        )
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=layout.zip64) as raw:
            cols = "".join(
                f'<col min="{j + 1}" max="{j + 1}" width="{w:.1f}" customWidth="1"/>'
                for j, w in enumerate(widths)
            )
            head = "".join(
                f'<c r="{letters[j]}1" s="{_BOLD_STYLE}" t="inlineStr"><is>'
                f'<t xml:space="preserve">{text(h)}</t></is></c>'
                for j, h in enumerate(header)
            )
            raw.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
                    f'<dimension ref="A1:{last}{layout.n_rows + 1}"/>'
                    '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
                    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
                    "</sheetView></sheetViews>"
                    '<sheetFormatPr defaultRowHeight="15"/>'
                    f"<cols>{cols}</cols><sheetData>"
                    f'<row r="1">{head}</row>'
                ).encode()
            )
            chunks = _Chunks(raw, layout.n_rows, layout.progress)
            r = 1
            for cells, added in rows:
                r += 1
                parts = [f'<row r="{r}">']
                append = parts.append
                # the whole row takes its upload_status colour, empty cells included
                style = _STATUS_STYLE.get(added[layout.status_col - len(cells)], 0) if added else 0
                s = f' s="{style}"' if style else ""
                j = 0
                for value in cells:
                    if value:
                        append(
                            f'<c r="{letters[j]}{r}"{s} t="inlineStr"><is><t xml:space="preserve">'
                            f"{text(value)}</t></is></c>"
                        )
                    elif style:
                        append(f'<c r="{letters[j]}{r}"{s}/>')
                    j += 1
                for value in added:
                    if type(value) is str and value:
                        append(
                            f'<c r="{letters[j]}{r}"{s} t="inlineStr"><is><t xml:space="preserve">'
                            f"{text(value)}</t></is></c>"
                        )
                    elif value is None or value == "":
                        if style:
                            append(f'<c r="{letters[j]}{r}"{s}/>')
                    else:
                        append(_xlsx_cell_xml(f"{letters[j]}{r}", value, style))
                    j += 1
                append("</row>")
                chunks.add("".join(parts))
            chunks.flush()
            count = chunks.count
            raw.write(
                (
                    f'</sheetData><autoFilter ref="A1:{last}{r}"/>'
                    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
                    'footer="0.3"/>'
                    # phone numbers and ids are text on purpose: no green "number as text" flags
                    f'<ignoredErrors><ignoredError sqref="A1:{last}{r}" numberStoredAsText="1"/>'
                    "</ignoredErrors></worksheet>"
                ).encode()
            )
        zf.writestr("xl/worksheets/sheet2.xml", _summary_sheet_xml(layout.summary_rows(), letters))
    return count


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _summary_sheet_xml(rows: list[tuple[Any, ...]], letters: list[str]) -> str:
    body = []
    for r, row in enumerate(rows, start=1):
        bold = len(row) == 1  # a one-cell row is a section title
        cells = "".join(
            _xlsx_cell_xml(f"{letters[j]}{r}", v, _BOLD_STYLE if bold else 0)
            for j, v in enumerate(row)
        )
        body.append(f'<row r="{r}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        '<cols><col min="1" max="1" width="40" customWidth="1"/>'
        '<col min="2" max="2" width="18" customWidth="1"/></cols>'
        f"<sheetData>{''.join(body)}</sheetData></worksheet>"
    )


# --------------------------------------------------------------------------------------------
# ODS: a minimal streaming OpenDocument spreadsheet writer (string cells, never formulas)
# --------------------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'office:version="1.2"'
)
_ODS_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ODS_SPECIAL = re.compile("[&<>\t\r\n\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|  |^ | $")


def _ods_runs(value: str) -> str:
    """ODF collapses whitespace in text:p, so spaces, tabs and breaks become elements."""
    value = _ODS_ILLEGAL.sub("\ufffd", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\t", "<text:tab/>").replace("\n", "<text:line-break/>")

    def spaces(match: re.Match[str]) -> str:
        run = len(match.group(0))
        edge = match.start() == 0 or match.end() == len(value)
        keep = 0 if edge else 1  # an edge space would be dropped, an inner one kept
        extra = run - keep
        return " " * keep + (f'<text:s text:c="{extra}"/>' if extra > 1 else "<text:s/>")

    return re.sub(r"^ +| +$| {2,}", spaces, value)


def _ods_cell(value: Any, style: str | None = None) -> str:
    s = f' table:style-name="{style}"' if style else ""
    if value is None or value == "":
        return f"<table:table-cell{s}/>"
    if is_number(value):
        return f'<table:table-cell{s} office:value-type="float" office:value="{value!r}"/>'
    text = str(value)
    if _ODS_SPECIAL.search(text) is not None:
        text = _ods_runs(text)
    return (
        f'<table:table-cell{s} office:value-type="string"><text:p>{text}</text:p>'
        "</table:table-cell>"
    )


def write_ods(
    path: Path,
    header: list[str],
    rows: ReportRows,
    layout: SheetLayout,
) -> int:
    widths = _column_widths(header, layout.sample)
    styles = ['<style:style style:name="hdr" style:family="table-cell"><style:text-properties '
              'fo:font-weight="bold"/></style:style>']  # fmt: skip
    for status, rgb in STATUS_COLOURS.items():
        styles.append(
            f'<style:style style:name="st-{status}" style:family="table-cell">'
            f'<style:table-cell-properties fo:background-color="#{rgb[2:].lower()}"/></style:style>'
        )
    for j, w in enumerate(widths):
        styles.append(
            f'<style:style style:name="co{j}" style:family="table-column">'
            f'<style:table-column-properties style:column-width="{w * 0.19:.2f}cm"/></style:style>'
        )
    last = column_letter(len(header) - 1)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        zf.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
            'manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
            '<manifest:file-entry manifest:full-path="settings.xml" '
            'manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
        zf.writestr(
            "styles.xml",
            f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {_ODS_NS}>'
            "<office:styles/></office:document-styles>",
        )
        zf.writestr(
            "settings.xml",  # frozen header row
            f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-settings {_ODS_NS}>'
            '<office:settings><config:config-item-set config:name="ooo:view-settings">'
            '<config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>'
            '<config:config-item-map-named config:name="Tables">'
            f"<config:config-item-map-entry config:name={quoteattr(layout.sheet)}>"
            '<config:config-item config:name="VerticalSplitMode" config:type="short">2'
            "</config:config-item>"
            '<config:config-item config:name="VerticalSplitPosition" config:type="int">1'
            "</config:config-item>"
            '<config:config-item config:name="ActiveSplitRange" config:type="short">2'
            "</config:config-item>"
            '<config:config-item config:name="PositionBottom" config:type="int">1'
            "</config:config-item>"
            "</config:config-item-map-entry></config:config-item-map-named>"
            "</config:config-item-map-entry></config:config-item-map-indexed>"
            "</config:config-item-set></office:settings></office:document-settings>",
        )
        with zf.open("content.xml", "w", force_zip64=layout.zip64) as raw:
            cols = "".join(
                f'<table:table-column table:style-name="co{j}"/>' for j in range(len(header))
            )
            head = "".join(_ods_cell(h, "hdr") for h in header)
            raw.write(
                (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_ODS_NS}>'
                    f"<office:automatic-styles>{''.join(styles)}</office:automatic-styles>"
                    f"<office:body><office:spreadsheet>"
                    f"<table:table table:name={quoteattr(layout.sheet)}>{cols}"
                    f"<table:table-header-rows><table:table-row>{head}</table:table-row>"
                    "</table:table-header-rows>"
                ).encode()
            )
            chunks = _Chunks(raw, layout.n_rows, layout.progress)
            for cells, added in rows:
                row_status = added[layout.status_col - len(cells)] if added else None
                style = f"st-{row_status}" if row_status in STATUS_COLOURS else None
                parts = ["<table:table-row>"]
                parts.extend(_ods_cell(c, style) for c in cells)
                parts.extend(_ods_cell(v, style) for v in added)
                parts.append("</table:table-row>")
                chunks.add("".join(parts))
            chunks.flush()
            count = chunks.count
            quoted = _quote_sheet(layout.sheet)
            filter_range = f"{quoted}.A1:{quoted}.{last}{count + 1}"
            summary = "".join(
                "<table:table-row>"
                + "".join(_ods_cell(v, "hdr" if len(row) == 1 else None) for v in row)
                + "</table:table-row>"
                for row in layout.summary_rows()
            )
            raw.write(
                (
                    "</table:table>"
                    f'<table:table table:name="Summary"><table:table-column/><table:table-column/>'
                    f"{summary}</table:table>"
                    '<table:database-ranges><table:database-range table:name="report" '
                    f"table:target-range-address={quoteattr(filter_range)} "
                    'table:display-filter-buttons="true"/></table:database-ranges>'
                    "</office:spreadsheet></office:body></office:document-content>"
                ).encode()
            )
    return count


def write_sheet(
    out: Path, fmt: str, header: list[str], rows: ReportRows, layout: SheetLayout
) -> int:
    """Write ``out`` in ``fmt`` (csv, tsv, xlsx, ods) through a temporary sibling renamed over
    it, so nobody ever sees half a file; returns the rows written. ``OSError`` is the caller's
    to translate (it knows what the file is for)."""
    tmp: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        if fmt in ("csv", "tsv"):
            count = write_delimited(tmp, header, rows, "," if fmt == "csv" else "\t")
        else:
            writer = write_xlsx if fmt == "xlsx" else write_ods
            count = writer(tmp, header, rows, layout)
        os.replace(tmp, out)
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    return count
