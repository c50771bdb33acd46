"""--sample N: exactly N rows go out (their own batch), their results are printed, and the full run
that follows sends the rest exactly once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.features.conftest import phone, received, write_contacts
from tests.helpers import RunCli
from uploader.emulator import EmulatorHandle

N_ROWS = 12


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    return write_contacts(tmp_path / "contacts.csv", range(1, N_ROWS + 1))


def _refs_by_batch(emulator: EmulatorHandle) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, counts in received(emulator).items():
        batch, ref = key.split("/")
        out.setdefault(batch, []).extend([ref] * counts["received"])
    return out


@pytest.mark.parametrize("mode", ["upload", "add"])
def test_trial_then_full_run_sends_every_row_once(
    contacts: Path,
    run_cli: RunCli,
    server_args: list[str],
    emulator: EmulatorHandle,
    mode: str,
) -> None:
    emulator.configure(time_scale=100_000)  # the trial's calls finish while we wait
    common = [*server_args, "--campaign-id", 5, "--mode", mode, "--batch-size", 5]
    code, out, err = run_cli("upload", contacts, *common, "--sample", 3, "--sample-wait", 30)
    assert code == 0, out + err
    sent = _refs_by_batch(emulator)
    assert len(sent) == 1
    (trial_batch,) = sent
    assert trial_batch.endswith("-trial")
    assert sorted(sent[trial_batch]) == ["r1", "r2", "r3"]
    assert "Trial results (settled)" in out
    calls = [line.split() for line in out.splitlines() if line.startswith(f"  {trial_batch} ")]
    assert [c[1] for c in calls] == ["r1", "r2", "r3"]  # one line per trial call
    assert all(c[3] in {"COMPLETED", "FAILED"} for c in calls)
    assert "Send the other 9 valid row(s)" in out
    assert phone(1) not in out + err  # printed masked

    code, out, err = run_cli("upload", contacts, *common, "--json")
    assert code == 0, out + err
    summary = json.loads(out)
    assert summary["counts"]["accepted"] == N_ROWS
    assert [b["batch_id"] == trial_batch for b in summary["batches"]] == [True, False, False]
    every = Counter(ref for refs in _refs_by_batch(emulator).values() for ref in refs)
    assert every == Counter({f"r{i}": 1 for i in range(1, N_ROWS + 1)})

    code, out, err = run_cli("upload", contacts, *common, "--json")  # a rerun sends nothing
    assert code == 0 and json.loads(out)["counts"]["accepted"] == N_ROWS
    assert sum(Counter(r for v in _refs_by_batch(emulator).values() for r in v).values()) == 12


def test_trial_into_a_named_batch_and_the_rest_added_to_it(
    contacts: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    common = [*server_args, "--campaign-id", 5, "--mode", "add", "--batch-id", "pilot"]
    code, out, err = run_cli("upload", contacts, *common, "--sample", 2, "--sample-wait", 0)
    assert code == 0, out + err
    assert sorted(received(emulator, "pilot")) == ["r1", "r2"]
    code, out, err = run_cli("upload", contacts, *common)
    assert code == 0, out + err
    held = received(emulator, "pilot")
    assert sorted(held, key=lambda r: int(r[1:])) == [f"r{i}" for i in range(1, N_ROWS + 1)]
    assert all(v == {"received": 1, "applied": 1} for v in held.values())


def test_a_repeated_trial_sends_nothing_new(
    contacts: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    common = [*server_args, "--campaign-id", 5, "--mode", "add", "--sample", 4]
    assert run_cli("upload", contacts, *common, "--sample-wait", 0)[0] == 0
    first = received(emulator)
    assert run_cli("upload", contacts, *common, "--sample-wait", 0)[0] == 0
    assert received(emulator) == first and len(first) == 4
