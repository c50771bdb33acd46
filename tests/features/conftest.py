"""Feature tests (plan, required variables, trial, fix-and-resend, PII, large-send guard).

Everything runs against the emulator over HTTP; the CLI runs through ``main`` with a clean
environment (no user config, no SYLLABLE_* variables) unless a test spawns a real process.
``clean_env`` and ``run_cli`` come from tests/conftest.py.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from uploader.emulator import EmulatorHandle

__all__ = ["CONTACT_HEADER", "phone", "received", "write_contacts", "write_csv"]

CONTACT_HEADER = ["reference_id", "phone", "first_name"]


@pytest.fixture(autouse=True)
def _clean_env(clean_env: None) -> None:
    """Every test in this folder runs in :func:`tests.conftest.clean_env` (``run_cli`` too)."""


@pytest.fixture
def server_args(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--server-url`` for the emulator; its key goes in through the environment, as in use."""
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    return ["--server-url", emulator.url]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_contacts(path: Path, numbers: Iterable[int]) -> Path:
    """A CSV of valid contacts: ``r{i}``, :func:`phone` ``(i)``, ``Name{i}`` for each number."""
    return write_csv(path, CONTACT_HEADER, [[f"r{i}", phone(i), f"Name{i}"] for i in numbers])


def phone(i: int) -> str:
    """A valid US number in E.164 (512 area, 555-2xxx block)."""
    return f"+1512555{2000 + i:04d}"


def received(emulator: EmulatorHandle, batch_id: str | None = None) -> dict[str, dict[str, int]]:
    """``{reference_id: {"received": n, "applied": n}}`` of one batch (or all, keyed batch/ref)."""
    stats = emulator.stats()["requests"]
    if batch_id is not None:
        return dict(stats.get(batch_id, {}))
    return {f"{b}/{r}": v for b, refs in stats.items() for r, v in refs.items()}
