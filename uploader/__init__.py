"""syllable-bulk-uploader: spreadsheets in, Syllable outbound batches out, every row accounted for.

The public API mirrors the CLI: ``validate``, ``upload``, ``results``, ``plan`` (each a function in
its stage module, re-exported here once that stage exists).
"""

from __future__ import annotations

from uploader.config import ApiKey, ClientConfig, ReadOptions, RetryConfig, UploadOptions
from uploader.engine import upload
from uploader.errors import UploaderError
from uploader.models import CommunicationRequest, Record, RowIssue, RowOutcome, RowStatus
from uploader.planner import plan
from uploader.validation import validate

__version__ = "0.1.0"

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
    "upload",
    "validate",
]
