"""Setup the benchmark scripts share: the SDK baseline, the pinned emulator, timed file writing.

- :func:`sdk_arguments` and :func:`pinned_emulator`: the add and upload benchmarks compare with a
  sequential ``syllable-sdk`` loop against an emulator process with injected latency, each side on
  its own core;
- :func:`sdk_loop`, :func:`write_csv`, :func:`phone`: that loop and the simple contact file both
  send;
- :func:`generated`: write a benchmark's input file and say how big it is and how long it took.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported on use: the read benchmarks time code in this very process
    from uploader.emulator.process import EmulatorProcess

__all__ = ["generated", "phone", "pinned_emulator", "sdk_arguments", "sdk_loop", "write_csv"]


def phone(i: int) -> str:
    """Distinct valid US numbers (area 512, exchange 2xx-9xx)."""
    return f"+1512{200 + i // 10000 % 800:03d}{i % 10000:04d}"


def write_csv(path: Path, rows: int, offset: int = 0) -> None:
    lines = ["reference_id,phone,first_name,balance"]
    lines += [f"R{offset + i:07d},{phone(offset + i)},Name{i},{i % 500}.00" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sdk_loop(url: str, key: str, rows: int) -> float:
    """Rows per second of the official SDK, one add after another."""
    from syllable_sdk import SyllableSDK, models

    with SyllableSDK(server_url=url, api_key_header=key) as sdk:
        sdk.outbound.batches.create(
            request=models.CommunicationBatchInput(batch_id="sdk-loop", campaign_id=1)
        )
        start = time.perf_counter()
        for i in range(rows):
            sdk.outbound.batches.add(
                batch_id="sdk-loop",
                communication_request=models.CommunicationRequest(
                    reference_id=f"S{i}", target=phone(i), request_variables={"n": str(i)}
                ),
            )
        return rows / (time.perf_counter() - start)


def sdk_arguments(parser: argparse.ArgumentParser, rows: int) -> None:
    """``--rows`` (default ``rows``), ``--sdk-rows`` and ``--latency-ms`` of an SDK comparison."""
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--sdk-rows", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)


def pinned_emulator(latency_ms: float) -> EmulatorProcess:
    """An emulator process on core 0 answering after ``latency_ms``; this script moves to core 1.

    On a one-core machine (or without ``sched_setaffinity``) nothing is pinned. Stop it after use.
    """
    from uploader.emulator.process import EmulatorProcess

    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    return EmulatorProcess(["--latency-ms", str(latency_ms)], taskset="0")


def generated(path: Path, rows: int, write: Callable[[Path, int], object]) -> Path:
    """``write(path, rows)``, then print the rows, the file's size and the seconds it took."""
    start = time.perf_counter()
    write(path, rows)
    print(
        f"generated {rows:,} rows ({path.stat().st_size / 2**20:.1f} MiB) "
        f"in {time.perf_counter() - start:.1f}s"
    )
    return path
