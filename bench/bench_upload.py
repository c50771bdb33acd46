"""``--mode upload`` end to end for 100,000 rows against a sequential loop over ``syllable-sdk``.

The emulator runs as a real process pinned to core 0 with ``--latency-ms`` of injected latency
(default 50); this script pins itself to core 1. The SDK loop adds a sample of rows one by one
(``--sdk-rows``, default 200) and its rate is extrapolated; the engine reads and validates the
CSV, journals the plan, creates the batches paused, uploads one file per batch, waits for them
to be processed, verifies, activates, and (unless ``--no-report``) writes the results report.

    .venv/bin/python bench/bench_upload.py [--rows 100000] [--batch-size 10000]

Target: at least 500x the SDK loop's rows per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pinned_emulator, sdk_arguments, sdk_loop, write_csv

from uploader import upload
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, ReadOptions, UploadOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sdk_arguments(parser, rows=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    emulator = pinned_emulator(args.latency_ms)
    try:
        url, key = emulator.url, emulator.api_key
        config = ClientConfig(server_url=url, api_key=ApiKey(key))
        sdk = sdk_loop(url, key, args.sdk_rows)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            source = folder / "contacts.csv"
            write_csv(source, args.rows)
            options = UploadOptions(
                campaign_id=1,
                batch_size=args.batch_size,
                journal_path=folder / "journal.sqlite3",
                confirmed=True,
            )
            start = time.perf_counter()
            result = upload(source, ReadOptions(), options, config)
            sent = time.perf_counter() - start
            assert result.counts["accepted"] == args.rows, result.counts
            report_s = 0.0
            if not args.no_report:
                from uploader.reporter import results, write_report

                found = dict(result.server_results)  # what the CLI's --report does
                have = {batch_id for batch_id, _ in found}
                missing = [b.batch_id for b in result.batches if b.batch_id not in have]
                if missing:
                    with SyllableClient(config) as api:
                        found.update(results(api, missing))
                write_report(folder / "report.csv", result.validation, result.outcomes, found)
                report_s = time.perf_counter() - start - sent
            total = time.perf_counter() - start
    finally:
        emulator.stop()
    rate = args.rows / total
    print(
        f"upload mode, {args.rows:,} rows in {len(result.batches)} batches, "
        f"emulator latency {args.latency_ms:g} ms"
    )
    print(f"  syllable-sdk sequential loop ({args.sdk_rows} rows)  {sdk:10.1f} rows/s       1.0x")
    print(
        f"  upload --mode upload, end to end           {rate:10.1f} rows/s  {rate / sdk:7.1f}x"
        f"   ({sent:.2f} s send + {report_s:.2f} s report = {total:.2f} s)"
    )
    print(f"  SDK loop extrapolated to {args.rows:,} rows: {args.rows / sdk / 60:.1f} minutes")


if __name__ == "__main__":
    main()
