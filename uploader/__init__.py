"""syllable-bulk-uploader: spreadsheets in, Syllable outbound batches out, every row accounted for.

The public API mirrors the CLI, one function per command: ``validate``, ``plan``, ``upload``,
``results`` (and ``write_report`` for the spreadsheet). They are imported on first use, so that
``import uploader`` and ``syllable-upload --help`` do not pay for pandas, pyarrow and httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from uploader.config import ApiKey, ClientConfig, ReadOptions, RetryConfig, UploadOptions
from uploader.errors import UploaderError
from uploader.models import CommunicationRequest, Record, RowIssue, RowOutcome, RowStatus

if TYPE_CHECKING:
    from uploader.engine import upload
    from uploader.planner import plan
    from uploader.reporter import results, write_report
    from uploader.validation import validate

__version__ = "0.1.0"

_LAZY = {
    "validate": "uploader.validation",
    "plan": "uploader.planner",
    "upload": "uploader.engine",
    "results": "uploader.reporter",
    "write_report": "uploader.reporter",
}

__all__ = [
    "ApiKey",
    "ClientConfig",
    "CommunicationRequest",
    "ReadOptions",
    "Record",
    "RetryConfig",
    "RowIssue",
    "RowOutcome",
    "RowStatus",
    "UploadOptions",
    "UploaderError",
    "__version__",
    "plan",
    "results",
    "upload",
    "validate",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'uploader' has no attribute {name!r}")
