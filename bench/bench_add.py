"""``--mode add`` throughput against a plain sequential loop over the official ``syllable-sdk``.

The emulator runs as a real process pinned to core 0 with ``--latency-ms`` of injected latency
(default 50); this script pins itself to core 1. Printed, each as rows per second and as a ratio
to the SDK loop:

- the SDK loop: ``SyllableSDK(...).outbound.batches.add(...)`` once per row, sequentially;
- client designs with ``--concurrency`` requests in flight: an ``httpx.Client`` with its default
  (httpcore) transport shared by a thread pool, and :class:`uploader.client.SyllableClient`
  (pooled ``http.client`` transport, retries, reconciliation) shared by a thread pool;
- the engine end to end: ``uploader.upload(..., mode="add")`` on a CSV (read, validate, journal,
  create, send, verify, activate).

    .venv/bin/python bench/bench_add.py [--rows 5000] [--sdk-rows 200] [--concurrency 32]

Target: the engine at least 30x the SDK loop (32 in flight over 50 ms is ~37x the physical limit).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import phone, pinned_emulator, sdk_arguments, sdk_loop, write_csv

from uploader import upload
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, ReadOptions, UploadOptions
from uploader.emulator import API_PREFIX
from uploader.models import CommunicationRequest


def threaded(rows: int, concurrency: int, send: Callable[[int], None]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(rows)))
    return rows / (time.perf_counter() - start)


def httpx_threads(url: str, key: str, rows: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, headers={"Syllable-API-Key": key}, limits=limits) as http:
        http.post(API_PREFIX, json={"batch_id": "httpx", "campaign_id": 1}).raise_for_status()

        def send(i: int) -> None:
            body = {"reference_id": f"H{i}", "target": phone(i), "request_variables": {}}
            http.post(f"{API_PREFIX}/httpx/requests", json=body).raise_for_status()

        return threaded(rows, concurrency, send)


def client_threads(url: str, key: str, rows: int, concurrency: int) -> float:
    config = ClientConfig(server_url=url, api_key=ApiKey(key))
    with SyllableClient(config, max_connections=concurrency * 2) as api:
        api.create_batch("client", 1)

        def send(i: int) -> None:
            api.add_request("client", CommunicationRequest(f"C{i}", phone(i), {}))

        return threaded(rows, concurrency, send)


def engine_add(url: str, key: str, rows: int, concurrency: int, folder: Path) -> float:
    source = folder / "contacts.csv"
    write_csv(source, rows)
    options = UploadOptions(
        campaign_id=1,
        mode="add",
        batch_size=rows,
        concurrency=concurrency,
        journal_path=folder / "journal.sqlite3",
        confirmed=True,
    )
    start = time.perf_counter()
    result = upload(
        source, ReadOptions(), options, ClientConfig(server_url=url, api_key=ApiKey(key))
    )
    elapsed = time.perf_counter() - start
    assert result.counts["accepted"] == rows, result.counts
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sdk_arguments(parser, rows=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    emulator = pinned_emulator(args.latency_ms)
    try:
        url, key = emulator.url, emulator.api_key
        with tempfile.TemporaryDirectory() as tmp:
            sdk = sdk_loop(url, key, args.sdk_rows)
            figures = [
                (f"syllable-sdk sequential loop ({args.sdk_rows} rows)", sdk),
                (
                    f"httpx.Client (httpcore) x {args.concurrency} threads",
                    httpx_threads(url, key, args.rows, args.concurrency),
                ),
                (
                    f"SyllableClient (pooled transport) x {args.concurrency} threads",
                    client_threads(url, key, args.rows, args.concurrency),
                ),
                (
                    f"upload --mode add --concurrency {args.concurrency} (end to end)",
                    engine_add(url, key, args.rows, args.concurrency, Path(tmp)),
                ),
            ]
    finally:
        emulator.stop()
    print(f"add mode, {args.rows:,} rows, emulator latency {args.latency_ms:g} ms")
    width = max(len(name) for name, _ in figures)
    for name, rate in figures:
        print(f"  {name:<{width}}  {rate:8.1f} rows/s  {rate / sdk:6.1f}x SDK loop")


if __name__ == "__main__":
    main()
