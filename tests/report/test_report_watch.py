"""watch_results against the emulator, with the clock and sleep injected (no real waiting)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.report.conftest import processed_batch
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.reporter import report_results, summarize_results, watch_results

BATCH = "watch-001"


class FakeClock:
    """Monotonic seconds that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def client(emulator: Any) -> Iterator[SyllableClient]:
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    body = "reference_id,target\nw1,+15125550101\nw2,+15125550102\nw3,512-055-0103\n"
    with SyllableClient(config) as c:
        processed_batch(c, BATCH, body, "w.csv", requests=3)
        yield c


def test_watch_gives_up_at_the_timeout_with_exact_waits(emulator: Any, client: Any) -> None:
    emulator.configure(time_scale=0.0001)  # the calls will not move during this test
    clock = FakeClock()
    seen: list[int] = []
    outcome = watch_results(
        client,
        [BATCH],
        timeout=25,
        interval=10,
        sleep=clock.sleep,
        clock=clock,
        on_refresh=lambda found: seen.append(len(found)),
    )
    assert clock.sleeps == [10, 10, 5]  # the last wait is cut to the deadline
    assert outcome.refreshes == 4 and seen == [3, 3, 3, 3]
    assert not outcome.settled and outcome.open_requests == 2  # w3 is INVALID: not open


def test_watch_stops_as_soon_as_everything_settled(emulator: Any, client: Any) -> None:
    emulator.configure(time_scale=1_000_000)
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        time.sleep(0.05)  # let real time (and so simulated outreach) pass

    outcome = watch_results(client, [BATCH], timeout=600, interval=30, sleep=sleep, clock=clock)
    assert outcome.settled and outcome.open_requests == 0
    assert len(clock.sleeps) < 20 and all(s == 30 for s in clock.sleeps)
    summary = summarize_results(outcome.results)
    assert summary["requests"] == 3 and summary["by_request_status"]["INVALID"] == 1
    assert set(summary["by_batch"]) == {BATCH}
    assert any(e["error"].startswith("INVALID") for e in summary["top_errors"])


def test_filters_reach_the_server(emulator: Any, client: Any) -> None:
    run = report_results(client, [BATCH], status="INVALID")
    assert list(run.results) == [(BATCH, "w3")]
    run = report_results(client, [BATCH, BATCH], reference_id="w1")
    assert list(run.results) == [(BATCH, "w1")] and run.batch_ids == [BATCH, BATCH]
    assert "1 requests" in run.render()
