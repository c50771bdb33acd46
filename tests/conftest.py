"""Fixtures every test area shares: the Syllable emulator, in-process and as a real process.

- ``emulator``: one in-process emulator for the whole session (uvicorn in a thread on a free
  loopback port); before each test its state, counters, faults and knobs are reset, so every test
  starts from an empty server with no faults. ``emulator.url``, ``emulator.api_key``,
  ``emulator.set_faults(...)``, ``emulator.configure(time_scale=...)``, ``emulator.stats()``.
- ``emulator_process``: a factory for real ``syllable-upload emulator`` child processes
  (``.url``, ``.kill()`` = SIGKILL, ``.restart()``, ``.stop()``); all are stopped after the test.
- ``clean_env``: no SYLLABLE_* variables and a private XDG config/state folder, so a CLI test
  never sees the developer's key or profiles (the CLI and feature folders use it for every test).
- ``run_cli``: ``run_cli("plan", file, ...)`` -> (exit code, stdout, stderr), through ``main``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.helpers import RunCli
from uploader.cli import main
from uploader.emulator import EmulatorHandle, EmulatorSettings, running_emulator
from uploader.emulator.process import EmulatorProcess

# Property tests assert behaviour, never time: hypothesis' per-example deadline is a wall-clock
# limit, which fails at random on a shared, loaded machine. Failing examples still print and replay.
settings.register_profile("uploader", deadline=None, print_blob=True)
settings.load_profile("uploader")


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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SYLLABLE_* variables, no user config file or state: the test says all there is."""
    for name in list(os.environ):
        if name.startswith("SYLLABLE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``run_cli("config", "show")`` -> (exit code, stdout, stderr), through ``main``.

    Arguments may be paths or numbers (each is passed as ``str``); output captured before the
    call is dropped, so the result holds this command's output only.
    """

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
