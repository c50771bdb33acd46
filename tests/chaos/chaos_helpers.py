"""The chaos suite's tools: seeded contact files, real uploader processes, and the verdict.

Every trial ends with :func:`verify`, which compares three independent views of one run against
what the file says should happen: the server's own state (results per batch, the batch list), the
emulator's delivery counters (``applied`` per reference id, when the emulator lived through the
whole trial) and the report the uploader wrote (every row's ``upload_status``). The
:class:`Tally` sums the trials into the one line the suite prints.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, RetryConfig

__all__ = [
    "TALLY",
    "Expected",
    "Run",
    "Tally",
    "UploaderRun",
    "kill_phase",
    "verify",
    "write_config",
    "write_contacts",
]

ROWS = int(os.environ.get("CHAOS_ROWS", "3000"))
BATCH_SIZE = 1000


@dataclass(frozen=True)
class Expected:
    """What each spreadsheet row of a generated file must end as."""

    status: dict[int, str]  # row number -> accepted / refused / blank
    requests: dict[str, tuple[str, dict[str, str]]]  # reference_id -> (E.164, variables)

    @property
    def valid(self) -> int:
        return len(self.requests)


def write_contacts(path: Path, n: int, seed: int) -> Expected:
    """``n`` rows: US numbers in mixed national formats, ~1% invalid, ~1% blank, seeded.

    The seed goes into the reference ids, so every trial's file (and batch ids, which carry the
    file's content hash) differs from every other trial's.
    """
    rng = random.Random(seed)
    status: dict[int, str] = {}
    requests: dict[str, tuple[str, dict[str, str]]] = {}
    formats = ("({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}.{b}.{c}")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference_id", "phone", "first_name", "note"])
        for i in range(n):
            row = i + 2
            roll = rng.random()
            if roll < 0.01:
                writer.writerow(["", "", "", ""])
                status[row] = "blank"
                continue
            ref = f"S{seed}-{i:05d}"
            if roll < 0.02:
                writer.writerow([ref, "555-01", f"Bad {i}", ""])
                status[row] = "refused"
                continue
            a, b, c = 512, 200 + rng.randrange(800), rng.randrange(10_000)
            phone = rng.choice(formats).format(a=a, b=b, c=f"{c:04d}")
            variables = {"first_name": f"Name, {i}", "note": rng.choice(["", "vip", "é ñ ü"])}
            writer.writerow([ref, phone, variables["first_name"], variables["note"]])
            status[row] = "accepted"
            requests[ref] = (f"+1{a}{b}{c:04d}", variables)
    return Expected(status, requests)


def write_config(path: Path, max_attempts: int = 12) -> Path:
    """A config file with a generous retry budget (chaos makes many calls fail several times)."""
    path.write_text(
        'default_profile = "chaos"\n[profiles.chaos]\n'
        f"max_attempts = {max_attempts}\nmax_retry_seconds = 120\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Run:
    """One finished uploader process."""

    code: int
    stdout: str
    stderr: str
    killed: bool
    seconds: float

    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


class UploaderRun:
    """``python -m uploader upload ...`` as a real child process, killable with SIGKILL."""

    def __init__(self, file: Path, url: str, key: str, mode: str, work: Path, config: Path) -> None:
        self.args = [
            sys.executable,
            "-m",
            "uploader",
            "--config",
            str(config),
            "upload",
            str(file),
            "--campaign-id",
            "7",
            "--server-url",
            url,
            "--mode",
            mode,
            "--batch-size",
            str(BATCH_SIZE),
            "--concurrency",
            "16",
            "--journal",
            str(work / "journal.sqlite"),
            "--report",
            str(work / "report.csv"),
            "--json",
        ]
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SYLLABLE_", "UPLOADER_"))
        }
        self.env["SYLLABLE_API_KEY"] = key
        self.work = work

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )

    def run(self, kill_after: float | None = None, timeout: float = 240.0) -> Run:
        """Run once; SIGKILL it ``kill_after`` seconds in (if it is still running by then)."""
        started = time.monotonic()
        proc = self.start()
        killed = False
        if kill_after is not None:
            try:
                proc.wait(kill_after)
            except subprocess.TimeoutExpired:
                proc.kill()
                killed = True
        out, err = proc.communicate(timeout=timeout)
        return Run(proc.returncode, out, err, killed, time.monotonic() - started)

    def run_to_completion(self, attempts: int = 6) -> tuple[Run, int]:
        """Rerun the same command until it ends with every row settled; (last run, reruns)."""
        for n in range(1, attempts + 1):
            run = self.run()
            assert "Traceback" not in run.stderr, run.stderr
            if run.code in (0, 1):
                summary = run.summary()
                counts = summary["counts"]
                if not counts["failed"] and not counts["pending"]:
                    return run, n
            else:
                assert run.code == 2, (run.code, run.stderr[-2000:])
        raise AssertionError(f"not complete after {attempts} runs: {run.stderr[-2000:]}")


@dataclass
class Tally:
    """The suite's one line: trials, faults injected, rows, lost, duplicated."""

    trials: int = 0
    uploader_kills: int = 0
    emulator_kills: int = 0
    server_faults: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    lost: int = 0
    duplicated: int = 0
    reruns: int = 0
    kill_phases: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        faults = self.uploader_kills + self.emulator_kills + sum(self.server_faults.values())
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.server_faults.items()))
        return (
            f"chaos: {self.trials} trials, {faults:,} faults injected "
            f"({self.uploader_kills} uploader SIGKILLs, {self.emulator_kills} emulator SIGKILLs"
            f"{', ' + kinds if kinds else ''}), {self.rows:,} valid rows, {self.lost} lost, "
            f"{self.duplicated} duplicated, {self.reruns} completion runs"
            + (
                "; uploader kills landed: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.kill_phases.items()))
                if self.kill_phases
                else ""
            )
        )


def kill_phase(journal: Path) -> str:
    """Where a killed run stopped, read from its journal (what the rerun had to resume)."""
    if not journal.exists():
        return "before the journal"
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        try:
            run = db.execute("SELECT id, state FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            return "before the journal"
        if run is None:
            return "before the plan"
        if run[1] != "open":
            return "after the run was recorded"
        states = {s for (s,) in db.execute("SELECT state FROM batches WHERE run_id=?", (run[0],))}
        sending = db.execute(
            "SELECT count(*) FROM rows WHERE run_id=? AND state='sending'", (run[0],)
        ).fetchone()[0]
    if states <= {"planned"}:
        return "planned, nothing created"
    if states & {"creating", "created", "uploading"}:
        return "rows in flight" if sending else "creating/filling"
    return "verifying/activating"


def _client(url: str, key: str) -> SyllableClient:
    return SyllableClient(
        ClientConfig(
            server_url=url,
            api_key=ApiKey(key),
            timeout=30,
            retry=RetryConfig(max_attempts=20, max_elapsed=120, initial_wait=0.05, max_wait=1),
        )
    )


def verify(
    url: str,
    key: str,
    expected: Expected,
    run: Run,
    report: Path,
    stats: dict[str, Any] | None,
    tally: Tally,
) -> None:
    """Every valid row exactly once on the server, no extra batch, every row's report status."""
    summary = run.summary()
    batch_ids = [b["batch_id"] for b in summary["batches"]]
    with _client(url, key) as api:
        listed = api.list_batches(limit=1000)["items"]
        held = [(b, item) for b in batch_ids for item in api.results(b)]
    seen = Counter(item["reference_id"] for _, item in held)
    lost = [ref for ref in expected.requests if seen[ref] == 0]
    duplicated = [ref for ref, n in seen.items() if n > 1]
    applied: dict[str, int] = {}
    if stats is not None:  # the emulator saw the whole trial: its counters are complete
        for refs in stats["requests"].values():
            for ref, counts in refs.items():
                applied[ref] = applied.get(ref, 0) + counts["applied"]
        duplicated += [ref for ref, n in applied.items() if n > 1 and ref not in duplicated]
    tally.trials += 1
    tally.rows += expected.valid
    tally.lost += len(lost)
    tally.duplicated += len(duplicated)
    assert not lost, f"{len(lost)} valid rows never reached the server, e.g. {lost[:5]}"
    assert not duplicated, f"{len(duplicated)} rows applied twice, e.g. {duplicated[:5]}"
    assert set(seen) == set(expected.requests), "the server holds rows the file does not have"
    for _, item in held:
        target, variables = expected.requests[item["reference_id"]]
        assert (item["target"], item["request_variables"]) == (target, variables)
        assert item["request_status"] not in ("INVALID", "DUPLICATE")
    if stats is not None:
        assert applied == dict.fromkeys(expected.requests, 1)
        assert sorted(stats["creates"]) == sorted(batch_ids)
        assert all(c["applied"] == 1 for c in stats["creates"].values())
    assert sorted(b["batch_id"] for b in listed) == sorted(batch_ids), "an extra batch exists"
    assert all(b["state"] == "active" for b in summary["batches"])
    counts = summary["counts"]
    want = Counter(expected.status.values())
    assert (counts["accepted"], counts["refused"], counts["blank"]) == (
        want["accepted"],
        want["refused"],
        want["blank"],
    )
    assert counts["failed"] == counts["pending"] == counts["rejected"] == 0
    with report.open(encoding="utf-8-sig", newline="") as handle:
        rows = {int(r["row_number"]): r for r in csv.DictReader(handle)}
    assert {n: r["upload_status"] for n, r in rows.items()} == expected.status
    for r in rows.values():
        if r["upload_status"] == "accepted":
            assert r["target_e164"] == expected.requests[r["reference_id"]][0]
            assert r["batch_id"] in batch_ids


#: The suite's running tally (one per pytest session; the chaos conftest prints it).
TALLY = Tally()
