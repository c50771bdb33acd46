"""Feature tests (plan, required variables, trial, fix-and-resend, PII, large-send guard).

Everything runs against the emulator over HTTP; the CLI runs through ``main`` with a clean
environment (no user config, no SYLLABLE_* variables) unless a test spawns a real process.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from uploader.cli import main
from uploader.emulator import EmulatorHandle

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SYLLABLE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``run_cli("plan", file, ...)`` -> (exit code, stdout, stderr), through ``main``."""

    def run(*args: Any) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


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


def phone(i: int) -> str:
    """A valid US number in E.164 (512 area, 555-2xxx block)."""
    return f"+1512555{2000 + i:04d}"


def received(emulator: EmulatorHandle, batch_id: str | None = None) -> dict[str, dict[str, int]]:
    """``{reference_id: {"received": n, "applied": n}}`` of one batch (or all, keyed batch/ref)."""
    stats = emulator.stats()["requests"]
    if batch_id is not None:
        return dict(stats.get(batch_id, {}))
    return {f"{b}/{r}": v for b, refs in stats.items() for r, v in refs.items()}
