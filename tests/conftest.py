"""Fixtures every test area shares: the Syllable emulator, in-process and as a real process.

- ``emulator``: one in-process emulator for the whole session (uvicorn in a thread on a free
  loopback port); before each test its state, counters, faults and knobs are reset, so every test
  starts from an empty server with no faults. ``emulator.url``, ``emulator.api_key``,
  ``emulator.set_faults(...)``, ``emulator.configure(time_scale=...)``, ``emulator.stats()``.
- ``emulator_process``: a factory for real ``syllable-upload emulator`` child processes
  (``.url``, ``.kill()`` = SIGKILL, ``.restart()``, ``.stop()``); all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from uploader.emulator import EmulatorHandle, EmulatorSettings, running_emulator
from uploader.emulator.process import EmulatorProcess


@pytest.fixture(scope="session")
def _emulator_session() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorSettings(seed=1234)) as emu:
        yield emu


@pytest.fixture
def emulator(_emulator_session: EmulatorHandle) -> EmulatorHandle:
    """A shared in-process emulator, emptied and with faults off for this test."""
    _emulator_session.reset()
    return _emulator_session


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Factory: ``emulator_process("--error-rate", "0.1", db=True)`` starts a real process.

    ``db=True`` gives it a fresh ``--db`` file under ``tmp_path`` (``db=Path`` uses that file).
    """
    started: list[EmulatorProcess] = []

    def start(*args: str, db: bool | Path = False, **kwargs: Any) -> EmulatorProcess:
        db_path = tmp_path / f"emulator-{len(started)}.sqlite" if db is True else db or None
        proc = EmulatorProcess(args, db_path=db_path, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
