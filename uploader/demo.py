"""The demo: the whole pipeline on the sample files, against a local emulator, in seconds.

:func:`run_demo` starts the Syllable API emulator in this process (loopback only: nothing leaves
the machine), writes the sample files, validates and uploads them with the real engine, waits
for the emulator's simulated calls to finish, and writes one XLSX results report per file.
Everything it writes (samples, reports, journals) goes under one output folder.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uploader.config import ApiKey, ClientConfig, ReadOptions, RetryConfig, UploadOptions
from uploader.models import ProgressCallback
from uploader.templates import write_samples

__all__ = ["DEMO_CAMPAIGN_ID", "DEMO_FILES", "DemoFile", "DemoResult", "run_demo"]

#: The samples the demo sends: a clean workbook and a messy CSV (validation at work).
DEMO_FILES = ("contacts-clean.xlsx", "contacts-messy.csv")
DEMO_CAMPAIGN_ID = 1


@dataclass(slots=True)
class DemoFile:
    """One sample's journey: what validation and the upload made of it, and its report."""

    source: Path
    report: Path
    counts: dict[str, int]
    batches: list[str]
    by_request_status: dict[str, int]
    problems: dict[str, int]
    settled: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "report": str(self.report),
            "counts": dict(self.counts),
            "batches": list(self.batches),
            "by_request_status": dict(self.by_request_status),
            "problems": dict(self.problems),
            "settled": self.settled,
        }


@dataclass(slots=True)
class DemoResult:
    """What the demo did; ``render()`` is the terminal text, ``to_dict()`` the ``--json``."""

    out_dir: Path
    emulator_url: str
    files: list[DemoFile] = field(default_factory=list)
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "emulator": self.emulator_url,
            "local_only": True,
            "out_dir": str(self.out_dir),
            "files": [f.to_dict() for f in self.files],
            "elapsed_s": round(self.elapsed, 2),
        }

    def render(self) -> str:
        lines = [
            f"Demo finished in {self.elapsed:.1f}s against the local emulator "
            f"({self.emulator_url}); nothing left this machine.",
            "",
        ]
        for item in self.files:
            counts = ", ".join(f"{n} {status}" for status, n in item.counts.items() if n)
            calls = ", ".join(f"{n} {status}" for status, n in item.by_request_status.items())
            lines.append(f"{item.source.name}: {counts}")
            if item.problems:
                shown = ", ".join(f"{n} {code}" for code, n in item.problems.items())
                lines.append(f"  refused by validation: {shown}")
            lines.append(f"  simulated calls: {calls or 'none'}")
            lines.append(f"  report: {item.report}")
        lines += [
            "",
            "Open the reports: every row of the sample, in order, with upload_status,",
            "upload_error and the call's request_status beside it (Summary sheet: the counts).",
            f"Samples used: {self.out_dir / 'samples'}  (try: syllable-upload validate on them)",
        ]
        return "\n".join(lines)


def run_demo(
    out_dir: Path,
    *,
    time_scale: float = 600.0,
    seed: int = 7,
    files: tuple[str, ...] = DEMO_FILES,
    wait_timeout: float = 120.0,
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """Run the demo into ``out_dir`` and return what happened (reports are in ``out_dir``).

    The emulator starts empty each time, so the demo's journals start afresh too.
    """
    from uploader.client import SyllableClient
    from uploader.emulator import EmulatorSettings, running_emulator
    from uploader.engine import upload
    from uploader.reporter import report_results, summarize_results

    started = time.monotonic()
    out_dir = Path(out_dir)
    samples = out_dir / "samples"
    journals = out_dir / "journal"
    reports = out_dir / "reports"
    write_samples(samples, overwrite=True)
    shutil.rmtree(journals, ignore_errors=True)  # a fresh emulator knows none of the old batches
    journals.mkdir(parents=True, exist_ok=True)
    reports.mkdir(parents=True, exist_ok=True)

    with running_emulator(EmulatorSettings(time_scale=time_scale, seed=seed)) as emu:
        client_config = ClientConfig(
            server_url=emu.url,
            api_key=ApiKey(emu.api_key),
            retry=RetryConfig(max_attempts=4, max_elapsed=20.0, initial_wait=0.1, max_wait=1.0),
        )
        result = DemoResult(out_dir=out_dir, emulator_url=emu.url)
        for name in files:
            source = samples / name
            options = UploadOptions(
                campaign_id=DEMO_CAMPAIGN_ID,
                journal_path=journals / f"{source.stem}.sqlite",
                wait_timeout=wait_timeout,
            )
            uploaded = upload(source, ReadOptions(), options, client_config, progress=progress)
            batch_ids = [b.batch_id for b in uploaded.batches]
            report = reports / f"{source.stem}-report.xlsx"
            with SyllableClient(client_config) as client:
                run = report_results(
                    client,
                    batch_ids,
                    out=report,
                    validation=uploaded.validation,
                    outcomes=uploaded.outcomes,
                    watch_timeout=wait_timeout,
                    interval=0.5,
                    settings={
                        "server_url": f"{emu.url} (local emulator)",
                        "campaign_id": DEMO_CAMPAIGN_ID,
                        "mode": options.mode,
                    },
                    progress=progress,
                )
            statuses = summarize_results(run.results).get("by_request_status", {})
            result.files.append(
                DemoFile(
                    source=source,
                    report=report,
                    counts=dict(uploaded.counts),
                    batches=batch_ids,
                    by_request_status=dict(statuses),
                    problems=dict(uploaded.validation.summary()["problems"]),
                    settled=run.settled,
                )
            )
    result.elapsed = time.monotonic() - started
    return result
