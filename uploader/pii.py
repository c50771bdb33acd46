"""Masking of personal data (phone numbers, variable values) in console output and logs.

Reports keep full values (they are the user's own data, written back beside it); everything a
terminal, a CI log or a ``--log-file`` shows goes through :class:`Masker` by default::

    mask_phone("+15125552301")   -> "+1512•••2301"
    mask_value("Alice Smith")    -> "A•••"

:class:`PiiFilter` is a ``logging.Filter`` that rewrites each record's message: anything that
looks like a phone number (E.164, formatted national numbers, long digit runs) and any value the
masker was told about (quoted or as a whole word) is masked. ``--show-pii`` turns the masker off.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = [
    "MASK",
    "Masker",
    "PiiFilter",
    "mask_phone",
    "mask_text",
    "mask_value",
]

MASK = "•••"

#: Phone-looking text: ``+`` and 7+ digits (separators allowed), formatted national numbers
#: such as ``(512) 555-2301`` / ``512.555.2301``, and bare runs of 10-15 digits. Dates
#: (``2026-12-01``) and batch ids (``contacts-20261129-...``) do not match.
_PHONE = re.compile(
    r"""
    \+\d(?:[\s().-]?\d){6,16}                                  # +1 512 555 2301, +15125552301
    | (?<![\w.-])\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}(?![\w])  # (512) 555-2301
    | (?<![\w+])\d{10,15}(?![\w])                               # 5125552301
    """,
    re.VERBOSE,
)
_QUOTED = re.compile(r"'([^'\n]{1,300})'|\"([^\"\n]{1,300})\"")
_WORD = re.compile(r"[^\s'\",;:()\[\]{}=<>]+")


def mask_phone(text: str) -> str:
    """``+15125552301`` -> ``+1512•••2301``: country and area code and the last digits stay.

    Works on formatted numbers too (separators are dropped); fewer than 7 digits -> ``•••``.
    """
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7:
        return MASK
    tail = 4 if len(digits) >= 10 else 2
    head = min(4, max(0, len(digits) - tail - 3))
    plus = "+" if text.lstrip().startswith("+") else ""
    return f"{plus}{digits[:head]}{MASK}{digits[-tail:]}"


def mask_value(value: Any) -> str:
    """A variable value reduced to its first character: ``Alice`` -> ``A•••`` (empty stays empty).

    Values of three characters or fewer become ``•••`` (the first letter would say too much).
    """
    text = "" if value is None else str(value)
    if not text.strip():
        return text
    text = text.strip()
    return MASK if len(text) <= 3 else text[0] + MASK


def mask_text(text: str, values: Iterable[str] | frozenset[str] | set[str] = ()) -> str:
    """``text`` with phone numbers masked, and each known value masked where it stands quoted
    (``'Alice Smith'``) or as a whole word."""
    known = values if isinstance(values, set | frozenset) else set(values)
    if known:

        def quoted(match: re.Match[str]) -> str:
            inner = match.group(1) if match.group(1) is not None else match.group(2)
            if inner in known or inner.rstrip("…") in known:
                quote = match.group(0)[0]
                return f"{quote}{mask_value(inner)}{quote}"
            return match.group(0)

        text = _QUOTED.sub(quoted, text)
        text = _WORD.sub(
            lambda m: mask_value(m.group(0)) if m.group(0) in known else m.group(0), text
        )
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


class Masker:
    """The CLI's one masking policy: on unless ``--show-pii``; knows the run's sensitive values.

    Thread-safe; ``remember`` takes values (variable cells, raw phone cells) that should never
    be shown in full. Values shorter than 3 characters are ignored (masking every "1" or "NY"
    in a log line would hide more than it protects).
    """

    def __init__(self, enabled: bool = True, *, max_values: int = 200_000) -> None:
        self.enabled = enabled
        self.max_values = max_values
        self._values: set[str] = set()
        self._known: frozenset[str] = frozenset()  # what __call__ reads: swapped, never mutated
        self._lock = threading.Lock()

    def remember(self, values: Iterable[Any]) -> None:
        with self._lock:
            for value in values:
                if len(self._values) >= self.max_values:
                    break
                text = "" if value is None else str(value).strip()
                if len(text) >= 3:
                    self._values.add(text)
            self._known = frozenset(self._values)

    def remember_issues(self, issues: Iterable[Any], *, skip_columns: Iterable[str] = ()) -> None:
        """The cell values quoted in validation messages (not those of ``skip_columns``)."""
        skip = set(skip_columns)
        self.remember(
            getattr(issue, "value", None)
            for issue in issues
            if getattr(issue, "column", None) not in skip
        )

    def __call__(self, text: str) -> str:
        if not self.enabled or not text:
            return text
        return mask_text(text, self._known)


class PiiFilter(logging.Filter):
    """Masks phone numbers and known values in every record a handler emits.

    Attach it to handlers (not the logger) so records from child loggers are masked too. The
    record's message is formatted once, masked, and stored back with no arguments.
    """

    def __init__(self, masker: Masker | None = None) -> None:
        super().__init__()
        self.masker = masker or Masker()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.masker.enabled:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to logging to report
            return True
        record.msg = self.masker(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.masker(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.masker(record.exc_text)
        return True
