"""Parsing an uploaded batch file as the service does: CSV with ``reference_id`` and ``target``.

Every other column becomes a request variable. A file that cannot be parsed is not an HTTP error:
the upload is accepted and the batch later shows FAILED with an ``error_message``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

__all__ = ["ParsedUpload", "UploadRejected", "is_valid_target", "parse_upload"]

_FORMATTING = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_NANP = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}")


def is_valid_target(target: str) -> bool:
    """A cheap stand-in for the service's phone check: E.164, or a 10/11-digit NANP number.

    It is deliberately stricter than "any digits" (so INVALID rows happen) and much cheaper than
    full phone metadata (so 100,000-row files are parsed in a fraction of a second).
    """
    digits = _FORMATTING.sub("", target)
    if digits.startswith("+"):
        return _E164.fullmatch(digits) is not None and (
            not digits.startswith("+1") or _NANP.fullmatch(digits[1:]) is not None
        )
    return _NANP.fullmatch(digits) is not None


class UploadRejected(Exception):
    """The file cannot be used at all; the message becomes the batch's ``error_message``."""


@dataclass(frozen=True, slots=True)
class ParsedUpload:
    """Rows as (reference_id, target, variables, valid), in file order.

    ``valid`` is False when the row cannot be called (no reference id, or a target that is not
    a phone number); such rows are stored with ``request_status`` INVALID.
    """

    rows: list[tuple[str, str, dict[str, str], bool]]


def parse_upload(content: bytes, filename: str | None) -> ParsedUpload:
    """Decode and parse one uploaded file, or raise :class:`UploadRejected` with the reason."""
    if content[:4] == b"PK\x03\x04" or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadRejected(
            f"Invalid file format: {filename or 'the file'} is a spreadsheet, expected CSV"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRejected(f"Invalid file format: not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise UploadRejected("Invalid file format: the file contains NUL bytes")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise UploadRejected("Missing required fields: the file is empty")
        names = [h.strip() for h in header]
        missing = [f for f in ("reference_id", "target") if f not in names]
        if missing:
            raise UploadRejected(f"Missing required fields: {', '.join(missing)}")
        ref_i = names.index("reference_id")
        target_i = names.index("target")
        var_cols = [
            (i, name) for i, name in enumerate(names) if i not in (ref_i, target_i) and name
        ]
        width = len(names)
        rows: list[tuple[str, str, dict[str, str], bool]] = []
        for cells in reader:
            if not cells or not any(cells):
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            ref = cells[ref_i].strip()
            target = cells[target_i].strip()
            variables = {name: cells[i] for i, name in var_cols}
            rows.append((ref, target, variables, bool(ref) and is_valid_target(target)))
    except csv.Error as exc:
        raise UploadRejected(f"Invalid file format: {exc}") from None
    return ParsedUpload(rows=rows)
