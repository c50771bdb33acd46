"""Typed settings objects, passed explicitly into every library call.

Resolution (flags > environment > config-file profile > defaults) happens once, at the CLI edge
(:mod:`uploader.settings`); library code never reads ``os.environ``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_SERVER_URL",
    "ApiKey",
    "ClientConfig",
    "ReadOptions",
    "RetryConfig",
    "UploadOptions",
]

DEFAULT_SERVER_URL = "https://api.syllable.cloud"


class ApiKey:
    """An API key that cannot leak through ``repr``, ``str``, logging or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        """The raw key; call only where it goes into the request header."""
        return self._value

    def masked(self) -> str:
        return "****" + self._value[-2:] if len(self._value) >= 12 else "****"

    def __repr__(self) -> str:
        return f"ApiKey({self.masked()!r})"

    __str__ = masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to turn one spreadsheet into requests (the reader's and validator's knobs)."""

    sheet: str | int | None = None  # name or 0-based index; None = first sheet with data
    header_row: int = 1  # spreadsheet row holding the header (1 = first row)
    column_map: dict[str, str] = field(default_factory=dict)  # {"target": "Mobile", ...}
    exclude: tuple[str, ...] = ()
    region: str = "US"
    generate_reference_ids: bool = False
    dedupe_targets: bool = False
    require_vars: tuple[str, ...] = ()
    max_value_length: int = 2000
    encoding: str | None = None  # None = detect
    delimiter: str | None = None  # None = sniff


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Bounds of the retry policy: attempts, total time and the backoff curve."""

    max_attempts: int = 8
    max_elapsed: float = 300.0  # seconds, across all attempts of one call
    initial_wait: float = 0.5
    max_wait: float = 30.0


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where and how to talk to the Syllable API."""

    server_url: str = DEFAULT_SERVER_URL
    api_key: ApiKey | None = None
    timeout: float = 30.0
    verify_tls: bool = True
    retry: RetryConfig = field(default_factory=RetryConfig)
    user_agent: str = "syllable-bulk-uploader"


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """What to send and how: batching, mode, batch settings, journal and safety rails."""

    campaign_id: int | None = None
    mode: Literal["upload", "add"] = "upload"
    batch_size: int = 10_000
    concurrency: int = 16
    batch_id: str | None = None  # explicit target batch (add mode may append to an existing one)
    batch_id_template: str = "{stem}-{date}-{hash}-{n:03d}"
    keep_paused: bool = False
    expires_on: datetime | None = None
    call_rate: int | None = None
    auto_call_rate: bool = False
    journal_path: Path | None = None  # None = default under the user's state directory
    sample: int | None = None  # trial run: only the first N valid rows
    plan_file: Path | None = None
    failed_path: Path | None = None
    large_send_threshold: int = 10_000
    confirmed: bool = False  # --yes
    wait_timeout: float = 600.0  # seconds to wait for a batch to finish processing
