"""Spreadsheet cell references: column letters, shared by the readers and the sheet writer.

Kept apart (and free of heavy imports) so the report writer can use it without loading pyarrow.
"""

from __future__ import annotations

__all__ = ["column_letter"]


def column_letter(index: int) -> str:
    """0-based column index as the spreadsheet letter (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
