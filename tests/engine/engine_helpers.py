"""Shared by the engine tests: contact files with known expectations, and server-side checks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, RetryConfig
from uploader.models import RowStatus


@dataclass(frozen=True)
class Expected:
    """What each spreadsheet row should become."""

    status: dict[int, RowStatus]
    requests: dict[str, tuple[str, dict[str, str]]]  # reference_id -> (E.164, variables)
    row_of: dict[str, int]


def write_contacts(
    path: Path, n: int, *, invalid_every: int = 0, blank_every: int = 0, offset: int = 0
) -> Expected:
    """A CSV of ``n`` data rows: national-format US numbers, some invalid, some blank rows."""
    status: dict[int, RowStatus] = {}
    requests: dict[str, tuple[str, dict[str, str]]] = {}
    row_of: dict[str, int] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference_id", "phone", "first_name", "balance"])
        for i in range(n):
            row = i + 2
            k = i + offset
            if blank_every and i % blank_every == blank_every - 1:
                writer.writerow(["", "", "", ""])
                status[row] = RowStatus.BLANK
                continue
            ref = f"M{k:06d}"
            exchange, line = 200 + k // 10000 % 800, k % 10000
            if invalid_every and i % invalid_every == invalid_every - 1:
                writer.writerow([ref, "12345", f"Name, {k}", ""])
                status[row] = RowStatus.REFUSED
                continue
            variables = {"first_name": f"Name, {k}", "balance": f"{k % 700}.50"}
            writer.writerow([ref, f"(512) {exchange}-{line:04d}", *variables.values()])
            status[row] = RowStatus.ACCEPTED
            requests[ref] = (f"+1512{exchange}{line:04d}", variables)
            row_of[ref] = row
    return Expected(status, requests, row_of)


def client_config(url: str, key: str, *, timeout: float = 10.0) -> ClientConfig:
    """Fast retries for tests (the timing itself is unit-tested elsewhere)."""
    return ClientConfig(
        server_url=url,
        api_key=ApiKey(key),
        timeout=timeout,
        retry=RetryConfig(max_attempts=12, max_elapsed=60, initial_wait=0.01, max_wait=0.1),
    )


def server_requests(url: str, key: str, batch_ids: list[str]) -> list[dict[str, Any]]:
    """Every request the server holds in these batches."""
    with SyllableClient(client_config(url, key)) as api:
        return [dict(item, batch_id=b) for b in batch_ids for item in api.results(b)]


def assert_server_holds_exactly(
    url: str, key: str, batch_ids: list[str], expected: Expected
) -> None:
    """Each valid row once, with its E.164 target and variables; nothing else."""
    held = server_requests(url, key, batch_ids)
    refs = [item["reference_id"] for item in held]
    assert len(refs) == len(set(refs)), "a reference id is in the batches twice"
    assert set(refs) == set(expected.requests)
    for item in held:
        target, variables = expected.requests[item["reference_id"]]
        assert item["target"] == target
        assert item["request_variables"] == variables
        assert item["request_status"] not in ("INVALID", "DUPLICATE")


def assert_applied_once(stats: dict[str, Any], expected: Expected) -> None:
    """The emulator's own counters: every valid row applied exactly once, nothing else."""
    applied: dict[str, int] = {}
    for refs in stats["requests"].values():
        for ref, counts in refs.items():
            applied[ref] = applied.get(ref, 0) + counts["applied"]
    assert applied == dict.fromkeys(expected.requests, 1)
    assert all(c["applied"] == 1 for c in stats["creates"].values())
