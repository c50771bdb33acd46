"""Durability with real processes: SIGKILL the uploader (and the emulator) mid-run, rerun, count.

The uploader runs as ``python -m uploader upload ...``; ``UPLOADER_TEST_KILL_AT=NAME:N`` (read by
the CLI only) makes it SIGKILL itself at the N-th engine checkpoint NAME, so every phase of the
batch lifecycle is hit on purpose rather than by timing luck.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import (
    Expected,
    assert_applied_once,
    assert_server_holds_exactly,
    write_contacts,
)

from tests.helpers import child_env
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.journal import load_outcomes
from uploader.models import RowStatus

pytestmark = pytest.mark.slow

ROWS = 1200
BATCH = 300


def cli(
    url: str,
    key: str,
    path: Path,
    journal: Path,
    *,
    mode: str,
    kill_at: str | None = None,
    extra: tuple[str, ...] = (),
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    env = child_env(SYLLABLE_API_KEY=key)
    env.pop("UPLOADER_TEST_KILL_AT", None)
    if kill_at:
        env["UPLOADER_TEST_KILL_AT"] = kill_at
    command = [
        sys.executable, "-m", "uploader", "upload", str(path),
        "--campaign-id", "9", "--server-url", url, "--journal", str(journal),
        "--mode", mode, "--batch-size", str(BATCH), "--concurrency", "8", "--json", *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def final_checks(url: str, key: str, journal: Path, expected: Expected) -> None:
    batch_ids, outcomes = load_outcomes(journal)
    assert {n: o.status for n, o in outcomes.items()} == expected.status
    assert len(batch_ids) == ROWS // BATCH
    assert_server_holds_exactly(url, key, batch_ids, expected)
    config = ClientConfig(server_url=url, api_key=ApiKey(key))
    with SyllableClient(config) as api:
        for batch_id in batch_ids:
            assert api.get_batch(batch_id)["paused"] is False


KILL_POINTS = {
    "upload": ["creating:2", "created:1", "uploading:1", "uploaded:3", "between:2",
               "verified:1", "activated:2"],
    "add": ["creating:1", "created:2", "add:150", "add:700", "between:1", "verified:2",
            "activated:1"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "kill_at"), [(m, k) for m, points in KILL_POINTS.items() for k in points]
)
def test_sigkill_at_any_point_then_rerun_is_exactly_once(
    emulator_process: Callable[..., Any], tmp_path: Path, mode: str, kill_at: str
) -> None:
    emu = emulator_process(db=True)
    expected = write_contacts(tmp_path / "contacts.csv", ROWS)
    journal = tmp_path / "journal.sqlite3"
    killed = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode=mode,
                 kill_at=kill_at)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode=mode)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["counts"]["accepted"] == len(expected.requests)
    assert_applied_once(emu.stats(), expected)
    final_checks(emu.url, emu.api_key, journal, expected)
    again = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode=mode)
    assert again.returncode == 0 and json.loads(again.stdout) == summary
    assert_applied_once(emu.stats(), expected)


@pytest.mark.parametrize("mode", ["upload", "add"])
def test_emulator_and_uploader_killed_then_both_restarted(
    emulator_process: Callable[..., Any], tmp_path: Path, mode: str
) -> None:
    """The server dies too (SIGKILL, state in --db); after a restart the rerun finishes the job
    and the server holds every row once (its counters restart, so the proof is its state)."""
    emu = emulator_process(db=True)
    expected = write_contacts(tmp_path / "contacts.csv", ROWS)
    journal = tmp_path / "journal.sqlite3"
    point = "add:500" if mode == "add" else "uploaded:2"
    killed = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode=mode,
                 kill_at=point)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    emu.kill()
    emu.restart()
    rerun = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode=mode)
    assert rerun.returncode == 0, rerun.stderr
    final_checks(emu.url, emu.api_key, journal, expected)
    # and with the server down mid-run, the uploader stops cleanly (exit 2) and resumes later
    expected2 = write_contacts(tmp_path / "more.csv", ROWS, offset=50_000)
    journal2 = tmp_path / "journal2.sqlite3"
    emu.kill()
    down = cli(emu.url, emu.api_key, tmp_path / "more.csv", journal2, mode=mode,
               extra=("--timeout", "1"), timeout=300)  # fmt: skip
    assert down.returncode == 2, down.stderr
    assert "error:" in down.stderr
    emu.restart()
    rerun2 = cli(emu.url, emu.api_key, tmp_path / "more.csv", journal2, mode=mode)
    assert rerun2.returncode == 0, rerun2.stderr
    final_checks(emu.url, emu.api_key, journal2, expected2)


def test_racing_cli_processes_one_gets_exit_3(
    emulator_process: Callable[..., Any], tmp_path: Path
) -> None:
    emu = emulator_process("--latency-ms", "30", db=True)
    expected = write_contacts(tmp_path / "contacts.csv", 600)
    journal = tmp_path / "journal.sqlite3"
    env = child_env(SYLLABLE_API_KEY=emu.api_key)
    command = [
        sys.executable, "-m", "uploader", "upload", str(tmp_path / "contacts.csv"),
        "--campaign-id", "9", "--server-url", emu.url, "--journal", str(journal),
        "--mode", "add", "--concurrency", "4", "--json",
    ]  # fmt: skip
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=180) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outputs
    loser = outputs[[p.returncode for p in procs].index(3)]
    assert "in use by pid" in loser[1]
    assert_applied_once(emu.stats(), expected)


def test_api_key_never_leaks_even_on_auth_failure(
    emulator_process: Callable[..., Any], tmp_path: Path
) -> None:
    key = "sk-live-7f3a9c1e5b2d4f6a8c0e"
    emu = emulator_process(api_key=key)
    write_contacts(tmp_path / "contacts.csv", 30)
    journal = tmp_path / "journal.sqlite3"
    log = tmp_path / "upload.log"
    ok = cli(emu.url, key, tmp_path / "contacts.csv", journal, mode="add",
             extra=("--report", str(tmp_path / "report.csv")))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    wrong = "sk-live-0000wrong0000key00000"
    env = child_env(SYLLABLE_API_KEY=wrong)
    denied = subprocess.run(
        [sys.executable, "-m", "uploader", "--debug", "--log-file", str(log), "upload",
         str(tmp_path / "contacts.csv"), "--campaign-id", "9", "--server-url", emu.url,
         "--journal", str(tmp_path / "other.sqlite3")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert denied.returncode == 2
    assert "API key was refused" in denied.stderr
    places = {
        "stdout": ok.stdout + denied.stdout,
        "stderr": ok.stderr + denied.stderr,
        "log": log.read_text(encoding="utf-8") if log.exists() else "",
        "report": (tmp_path / "report.csv").read_text(encoding="utf-8"),
    }
    for path in tmp_path.glob("*.sqlite3*"):
        places[path.name] = path.read_bytes().decode("latin-1")
    db = sqlite3.connect(journal)
    places["journal dump"] = "\n".join(db.iterdump())
    db.close()
    for where, text in places.items():
        for secret in (key, wrong):
            assert secret not in text, f"the API key leaked into {where}"
            assert secret[-12:] not in text, f"part of the API key leaked into {where}"


def test_status_after_a_kill_is_pending_not_lost(
    emulator_process: Callable[..., Any], tmp_path: Path
) -> None:
    emu = emulator_process(db=True)
    expected = write_contacts(tmp_path / "contacts.csv", ROWS)
    journal = tmp_path / "journal.sqlite3"
    killed = cli(emu.url, emu.api_key, tmp_path / "contacts.csv", journal, mode="add",
                 kill_at="add:400")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    _, outcomes = load_outcomes(journal)
    statuses = [o.status for o in outcomes.values()]
    assert len(outcomes) == len(expected.status)
    assert RowStatus.PENDING in statuses and RowStatus.ACCEPTED in statuses
