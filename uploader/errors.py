"""One exception tree for the whole tool, and the exit codes it maps to.

Row-level problems are *data* (:class:`uploader.models.RowIssue`), never exceptions; an exception
here means "this run cannot go on". Foreign exceptions (httpx, sqlite3, openpyxl, calamine) are
translated into these at one boundary each and raised ``from`` the original::

    UploaderError                      exit 2 unless noted
    ├── InputError                     a file cannot be read at all (path, row, column)
    ├── ConfigError                    bad flags, settings, mapping or profile
    ├── JournalError                   the SQLite journal is unusable
    │   └── LockHeldError              another run holds the journal lock         exit 3
    ├── PlanError                      a reviewed plan no longer matches the server  exit 4
    ├── ConfirmationRequired           a large send needs --yes (or the user said no)  exit 5
    └── ApiError                       the Syllable API (status_code, detail)
        ├── TransientApiError          429, 5xx, timeouts, dropped connections: retried
        │   └── RetriesExhausted       still transient after the retry budget
        └── PermanentApiError          any other 4xx: never retried
            ├── AuthError              401/403: bad or missing key
            ├── NotFoundError          404
            ├── ConflictError          409 / "already exists"
            └── RequestValidationError 422 (FastAPI HTTPValidationError)

Exit codes live in :data:`EXIT_CODES` and :func:`exit_code_for`, and nowhere else.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_CODES",
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConfirmationRequired",
    "ConflictError",
    "InputError",
    "JournalError",
    "LockHeldError",
    "NotFoundError",
    "PermanentApiError",
    "PlanError",
    "RequestValidationError",
    "RetriesExhausted",
    "TransientApiError",
    "UploaderError",
    "exit_code_for",
]

#: The documented exit codes of ``syllable-upload`` (README "Exit codes" mirrors this table).
EXIT_CODES: dict[str, int] = {
    "ok": 0,  # every non-blank row valid / accepted
    "rows": 1,  # some rows refused, rejected or failed; the run itself completed
    "fatal": 2,  # unreadable file, bad config or key, API unreachable after retries
    "locked": 3,  # another run holds the journal lock
    "stale_plan": 4,  # --plan-file no longer matches the server
    "not_confirmed": 5,  # large send not confirmed (--yes missing or answered no)
    "interrupted": 130,  # Ctrl-C / SIGTERM before the run finished (state is safe)
}


class UploaderError(Exception):
    """Root of every error this package raises on purpose."""

    exit_key = "fatal"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.exit_key]

    def __str__(self) -> str:
        return self.message


class InputError(UploaderError):
    """The input file cannot be read at all; names the file and, where known, row and column."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = []
        if path:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column!r}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full, path=path, row=row, column=column)
        self.reason = message
        self.path = path
        self.row = row
        self.column = column


class ConfigError(UploaderError):
    """Settings, flags, profile or mapping file are wrong; the message says which and how."""


class JournalError(UploaderError):
    """The journal database cannot be opened, migrated or written."""


class LockHeldError(JournalError):
    """Another run is using the same journal; running both would risk double sends."""

    exit_key = "locked"


class PlanError(UploaderError):
    """A plan file does not match the file or the server state it was made against."""

    exit_key = "stale_plan"


class ConfirmationRequired(UploaderError):
    """A send above the large-send threshold was not confirmed."""

    exit_key = "not_confirmed"


class ApiError(UploaderError):
    """The API answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail, method=method, url=url)
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.url = url
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""


class RetriesExhausted(TransientApiError):
    """A transient failure that outlasted the retry budget."""


class PermanentApiError(ApiError):
    """A 4xx other than 429: retrying would give the same answer."""


class AuthError(PermanentApiError):
    """401/403: the key is missing, wrong or lacks permission."""


class NotFoundError(PermanentApiError):
    """404: the batch (or path) does not exist."""


class ConflictError(PermanentApiError):
    """The server already has this batch or reference id."""


class RequestValidationError(PermanentApiError):
    """422: the server refused the body; ``detail`` holds FastAPI's error list."""


def exit_code_for(error: BaseException) -> int:
    """Map any exception to the documented exit code; unknown ones are fatal."""
    if isinstance(error, UploaderError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_CODES["interrupted"]
    return EXIT_CODES["fatal"]
