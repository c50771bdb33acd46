"""Chaos: real uploader processes and a real emulator process, killed and faulted at random.

Three kinds of trial, all seeded (the seed is in the test id, so any failure replays):

1. the uploader SIGKILLed at a random moment of a 3,000-row run (upload and add mode
   alternating), every fourth trial killing the resuming run too, then the same command rerun
   to completion; where each kill landed (read from the journal) goes into the tally;
2. the emulator SIGKILLed and restarted on its ``--db`` at random moments while a run is going;
3. every fault kind at once (latency, 429 with Retry-After, 5xx, dropped and hung connections,
   ambiguous successes), with and without an uploader SIGKILL on top.

After each trial :func:`chaos_helpers.verify` checks that every valid row was applied exactly once,
no batch exists beyond the run's own, and the report gives every row its right status. Trials are
sized so the whole suite takes a few minutes on two cores (``CHAOS_ROWS`` changes the file size).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_helpers import (
    ROWS,
    TALLY,
    Expected,
    Run,
    UploaderRun,
    kill_phase,
    verify,
    write_config,
    write_contacts,
)

from uploader.emulator.process import EmulatorProcess

pytestmark = pytest.mark.slow

MODES = ("upload", "add")
ALL_FAULTS = {
    "latency_ms": 1.0,
    "latency_jitter_ms": 4.0,
    "rate_429": 0.03,
    "retry_after_s": 1,
    "error_rate": 0.05,
    "drop_rate": 0.03,
    "hang_rate": 0.01,
    "hang_seconds": 0.5,
    "ambiguous_rate": 0.05,
}
SERVER_FAULTS = ("429", "500", "502", "503", "504", "drop", "hang", "ambiguous")


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One real emulator process for the trials that do not kill it (reset between trials)."""
    proc = EmulatorProcess(["--seed", "8"])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("chaos-config") / "config.toml")


@pytest.fixture(scope="module")
def baseline(
    emu: EmulatorProcess, config: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, float]:
    """Seconds a clean run takes per mode here, so kill moments fall inside real runs."""
    seconds: dict[str, float] = {}
    for mode in MODES:
        work = tmp_path_factory.mktemp(f"baseline-{mode}")
        emu.reset()
        write_contacts(work / "contacts.csv", ROWS, seed=MODES.index(mode) + 1)
        run = UploaderRun(work / "contacts.csv", emu.url, emu.api_key, mode, work, config).run()
        assert run.code == 1, run.stderr[-2000:]  # the file has refused rows on purpose
        seconds[mode] = run.seconds
    return seconds


def _faults(stats: dict[str, object]) -> dict[str, int]:
    found = stats.get("faults", {})
    assert isinstance(found, dict)
    return {k: int(v) for k, v in found.items() if k in SERVER_FAULTS}


def _trial(trial: int, first_seed: int) -> tuple[str, int, random.Random]:
    """A trial's mode (alternating), seed and random source: the test id replays it."""
    seed = first_seed + trial
    return MODES[trial % 2], seed, random.Random(seed)


def _prepare(
    url: str, key: str, mode: str, seed: int, work: Path, config: Path
) -> tuple[Expected, UploaderRun]:
    """The trial's contacts file (what the server must end up with) and its uploader command."""
    expected = write_contacts(work / "contacts.csv", ROWS, seed)
    return expected, UploaderRun(work / "contacts.csv", url, key, mode, work, config)


def _tally_kill(run: Run, work: Path) -> bool:
    """Count a SIGKILLed uploader run and the phase its journal shows; True if it was killed."""
    if run.killed:
        TALLY.uploader_kills += 1
        TALLY.kill_phases[kill_phase(work / "journal.sqlite")] += 1
    return run.killed


def _complete(runner: UploaderRun) -> Run:
    """Rerun until the run finishes, counting the reruns."""
    final, reruns = runner.run_to_completion()
    TALLY.reruns += reruns
    return final


# ------------------------------------------------------------------------------- 1: uploader


@pytest.mark.parametrize("trial", range(20))
def test_uploader_sigkill_at_a_random_moment_then_rerun(
    trial: int,
    emu: EmulatorProcess,
    config: Path,
    baseline: dict[str, float],
    tmp_path: Path,
) -> None:
    mode, seed, rng = _trial(trial, 100)
    emu.reset()
    expected, runner = _prepare(emu.url, emu.api_key, mode, seed, tmp_path, config)
    kill_after = rng.uniform(0.05, 1.0) * baseline[mode]
    first = runner.run(kill_after=kill_after)
    if _tally_kill(first, tmp_path):
        assert first.code == -9
        if trial % 4 == 3:  # and the resuming run killed too, half way through
            second = runner.run(kill_after=rng.uniform(0.3, 0.8) * baseline[mode])
            _tally_kill(second, tmp_path)
    final = _complete(runner)
    verify(emu.url, emu.api_key, expected, final, tmp_path / "report.csv", emu.stats(), TALLY)


# ------------------------------------------------------------------------------- 2: emulator


@pytest.mark.parametrize("trial", range(4))
def test_emulator_sigkill_and_restart_during_a_run(
    trial: int, config: Path, baseline: dict[str, float], tmp_path: Path
) -> None:
    mode, seed, rng = _trial(trial, 200)
    server = EmulatorProcess(["--seed", str(seed)], db_path=tmp_path / "emulator.sqlite")
    try:
        expected, runner = _prepare(server.url, server.api_key, mode, seed, tmp_path, config)
        kills = 1 + trial % 2
        moments = sorted(rng.uniform(0.1, 1.0) * baseline[mode] for _ in range(kills))
        downtimes = [rng.uniform(0.0, 0.5) for _ in range(kills)]
        proc = runner.start()
        started = time.monotonic()
        for moment, down in zip(moments, downtimes, strict=True):
            time.sleep(max(0.0, moment - (time.monotonic() - started)))
            if proc.poll() is not None:
                break
            server.kill()
            TALLY.emulator_kills += 1
            time.sleep(down)
            server.restart()
        _out, err = proc.communicate(timeout=300)
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 1, 2), err[-2000:]
        final = _complete(runner)
        # the emulator's counters restarted with it: judge by the server's state and the report
        verify(server.url, server.api_key, expected, final, tmp_path / "report.csv", None, TALLY)
    finally:
        server.stop()


# ------------------------------------------------------------------------------- 3: everything


@pytest.mark.parametrize("trial", range(4))
def test_every_fault_kind_at_once(
    trial: int,
    emu: EmulatorProcess,
    config: Path,
    baseline: dict[str, float],
    tmp_path: Path,
) -> None:
    mode, seed, rng = _trial(trial, 300)
    emu.reset()
    emu.set_faults(**ALL_FAULTS)
    expected, runner = _prepare(emu.url, emu.api_key, mode, seed, tmp_path, config)
    if trial >= 2:  # and an uploader SIGKILL on top
        _tally_kill(runner.run(kill_after=rng.uniform(0.2, 1.5) * baseline[mode]), tmp_path)
    final = _complete(runner)
    stats = emu.stats()
    emu.clear_faults()
    faults = _faults(stats)
    TALLY.server_faults.update(faults)
    assert sum(faults.values()) > 0
    verify(emu.url, emu.api_key, expected, final, tmp_path / "report.csv", stats, TALLY)


def test_the_suite_injected_every_fault_kind() -> None:
    """Runs last in the module: the trials above really exercised what they claim to."""
    if TALLY.trials < 28:
        pytest.skip("only part of the chaos suite ran")
    assert TALLY.uploader_kills >= 15
    assert TALLY.emulator_kills >= 4
    for kind in ("429", "drop", "hang", "ambiguous"):
        assert TALLY.server_faults[kind] > 0, kind
    assert sum(TALLY.server_faults[k] for k in ("500", "502", "503", "504")) > 0
    assert TALLY.lost == TALLY.duplicated == 0
