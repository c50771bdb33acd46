"""Cells as text: the one conversion and cleaning every reader path shares.

Every cell becomes text the way a person reads it in the spreadsheet: whole numbers as their digits
(``5125551234``, never ``5125551234.0`` or ``5.13E+09``), dates as ISO ``YYYY-MM-DD`` (or
``YYYY-MM-DDTHH:MM:SS``), booleans ``true``/``false``, empty cells as ``""``. Text is cleaned once,
column by column: control characters other than newline and tab are removed, then NFC
normalisation, then trimming. Columns are kept as Arrow string arrays (:class:`TextColumn`) until
someone asks for Python strings.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TextColumn",
    "as_arrow",
    "cell_to_text",
    "clean_array",
    "clean_text",
    "column_text",
    "float_texts",
]

_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"


class TextColumn(Sequence[str]):
    """One column of cell texts, kept as an Arrow array until Python strings are asked for.

    Validation works on the Arrow array directly; the Python list is built once, on first
    indexing, so a 1,000,000-row file costs Python objects only if someone walks it.
    """

    __slots__ = ("_array", "_list")

    def __init__(self, values: pa.Array | pa.ChunkedArray | Sequence[str]) -> None:
        self._list: list[str] | None = None
        if isinstance(values, pa.ChunkedArray) and values.num_chunks == 1:
            values = values.chunk(0)
        if isinstance(values, pa.Array | pa.ChunkedArray):
            self._array: pa.Array | pa.ChunkedArray | None = values
        else:
            self._array = None
            self._list = [str(v) for v in values]

    def arrow(self) -> pa.Array | pa.ChunkedArray:
        """The column as an Arrow string array (no nulls), possibly chunked."""
        if self._array is None:
            self._array = pa.array(self._list, type=pa.string())
        return self._array

    def _values(self) -> list[str]:
        if self._list is None:
            assert self._array is not None
            self._list = self._array.to_pylist()
        return self._list

    def __len__(self) -> int:
        return len(self._array) if self._array is not None else len(self._values())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._values()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __repr__(self) -> str:
        return f"TextColumn(len={len(self)})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def as_arrow(column: Sequence[str]) -> pa.Array | pa.ChunkedArray:
    """Any column (``TextColumn``, list, ...) as an Arrow string array."""
    if isinstance(column, TextColumn):
        return column.arrow()
    return pa.array([str(v) for v in column], type=pa.string())


def _bytes_of(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, UTF-8 bytes) of a string array, as numpy views (no copies)."""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[
        chunk.offset : chunk.offset + len(chunk) + 1
    ]
    data_buffer = chunk.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else _NO_BYTES
    return offsets, data


_NO_BYTES = np.zeros(0, dtype=np.uint8)
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 32]] = True
_ASCII_SPACE[128:] = True  # a non-ASCII first/last byte may be Unicode space: let trim decide


def _clean_chunk(chunk: pa.Array) -> pa.Array:
    if chunk.type != pa.string():
        chunk = chunk.cast(pa.string())
    if chunk.null_count:
        chunk = pc.fill_null(chunk, "")
    if len(chunk) == 0:
        return chunk
    offsets, data = _bytes_of(chunk)
    data = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    ascii_only = not (data >= 0x80).any()
    control = ((data < 0x20) & (data != 9) & (data != 10)).any() or (data == 0x7F).any()
    if not ascii_only and not control:
        lead = np.nonzero(data[:-1] == 0xC2)[0]
        control = bool(((data[lead + 1] >= 0x80) & (data[lead + 1] <= 0x9F)).any())
    if control:
        chunk = pc.replace_substring_regex(chunk, _CONTROL, "")
    if not ascii_only:
        chunk = pc.utf8_normalize(chunk, form="NFC")
    if control or not ascii_only:
        return pc.utf8_trim_whitespace(chunk)
    filled = offsets[1:] > offsets[:-1]
    if not filled.any():
        return chunk
    firsts = data[offsets[:-1][filled]]
    lasts = data[offsets[1:][filled] - 1]
    if _ASCII_SPACE[firsts].any() or _ASCII_SPACE[lasts].any():
        chunk = pc.utf8_trim_whitespace(chunk)
    return chunk


def clean_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Nulls to "", control characters (except \\n, \\t) removed, NFC, trimmed; vectorised.

    Byte-level checks on the raw UTF-8 skip each pass a column does not need (most columns of
    most files are ASCII without stray spaces), so clean files pay almost nothing.
    """
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array(
            [_clean_chunk(c) for c in values.chunks] or [pa.array([], pa.string())],
            type=pa.string(),
        )
    return _clean_chunk(values)


def clean_text(value: str) -> str:
    """The same cleaning as :func:`clean_array` for one value."""
    return str(clean_array(pa.array([value], type=pa.string()))[0].as_py())


def _number_text(value: float) -> str:
    """A float as Excel shows it in a General cell: whole numbers as digits, no exponent."""
    if math.isnan(value) or math.isinf(value):
        return ""
    if value.is_integer():
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def cell_to_text(value: Any) -> str:
    """One workbook cell (as calamine/openpyxl/xlrd give it) as text, before cleaning."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, Decimal):
        return _number_text(float(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(microsecond=0).isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return str(value)


def column_text(cells: Sequence[Any] | np.ndarray) -> Sequence[str] | np.ndarray:
    """A column of workbook cells as text; text cells pass through, numbers take a fast path."""
    kinds = set(map(type, cells))
    if kinds <= {str}:
        return cells
    if kinds <= {str, float}:
        return _float_column_text(cells)
    return [cell_to_text(c) for c in cells]


def _float_column_text(cells: Sequence[Any] | np.ndarray) -> list[str]:
    """Text and float cells: the floats converted with numpy/Arrow, same text as _number_text."""
    out = np.array(cells, dtype=object)
    is_float = np.array([kind is float for kind in map(type, cells)], dtype=bool)
    out[is_float] = float_texts(out[is_float].astype(np.float64))
    return list(out.tolist())


def float_texts(values: np.ndarray) -> np.ndarray:
    """Floats as text (object array), the same text as :func:`_number_text` gives one by one.

    Whole numbers become their digits; other finite numbers use Arrow's shortest round-trip text
    when it has at most 15 characters and no exponent (then it equals Excel's 15-significant-digit
    display), else the Python path; NaN and infinities become "".
    """
    text = np.full(len(values), "", dtype=object)
    finite = np.isfinite(values)
    whole = finite & (np.floor(values) == values) & (np.abs(values) < 2.0**62)
    if whole.any():
        text[whole] = values[whole].astype(np.int64).astype(str).astype(object)
    rest = np.nonzero(finite & ~whole)[0]
    if len(rest):
        shortest = pa.array(values[rest], type=pa.float64()).cast(pa.string())
        text[rest] = shortest.to_numpy(zero_copy_only=False)
        odd = np.asarray(
            pc.or_(
                pc.greater(pc.utf8_length(shortest), 15), pc.match_substring(shortest, "e")
            ).to_numpy(zero_copy_only=False)
        )
        for k in rest[odd].tolist():
            text[k] = _number_text(float(values[k]))
    return text
