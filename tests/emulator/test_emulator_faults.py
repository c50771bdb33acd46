"""Each fault kind happens at its configured rate (seeded, so replayable), and ambiguous success
really applies the change before the connection drops."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from uploader.emulator import API_PREFIX, EmulatorHandle
from uploader.emulator.faults import TokenBucket

N = 300
#: How a dropped connection reaches the client: a close (no response) or a reset.
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    headers = {"Syllable-API-Key": emulator.api_key}
    with httpx.Client(base_url=emulator.url, headers=headers, timeout=10) as c:
        assert c.post(API_PREFIX, json={"batch_id": "f", "campaign_id": 1, "paused": True})
        yield c


def _add(client: httpx.Client, ref: str) -> str:
    """POST one request; returns the status code, or 'drop' / 'timeout'."""
    body = {"reference_id": ref, "target": "+15125550100", "request_variables": {}}
    try:
        return str(client.post(f"{API_PREFIX}/f/requests", json=body).status_code)
    except DROPPED:
        return "drop"
    except httpx.TimeoutException:
        return "timeout"


def _within(observed: int, rate: float, n: int) -> bool:
    """Binomial tolerance of 4 standard deviations (a fixed seed makes it a replay anyway)."""
    sigma = math.sqrt(n * rate * (1 - rate))
    return abs(observed - n * rate) <= 4 * sigma


@pytest.mark.parametrize(
    ("knob", "outcome", "fault_kind"),
    [
        ("rate_429", "429", "429"),
        ("drop_rate", "drop", "drop"),
        ("ambiguous_rate", "drop", "ambiguous"),
    ],
)
def test_fault_happens_at_the_configured_rate(
    emulator: EmulatorHandle, client: httpx.Client, knob: str, outcome: str, fault_kind: str
) -> None:
    emulator.set_faults(**{knob: 0.2})
    seen = Counter(_add(client, f"r-{i}") for i in range(N))
    assert set(seen) == {"200", outcome}
    assert _within(seen[outcome], 0.2, N)
    stats = emulator.stats(batch_id="f")
    assert stats["faults"] == {fault_kind: seen[outcome]}
    counts = stats["requests"]["f"]
    assert sum(c["received"] for c in counts.values()) == N  # faulted ones arrived too
    applied = sum(c["applied"] for c in counts.values())
    if fault_kind == "ambiguous":
        assert applied == N  # every request was applied, answered or not
    else:
        assert applied == seen["200"]


def test_errors_use_every_configured_5xx_code(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.set_faults(error_rate=0.4)
    seen = Counter(_add(client, f"e-{i}") for i in range(N))
    errors = {code: n for code, n in seen.items() if code != "200"}
    assert set(errors) == {"500", "502", "503", "504"}
    assert _within(sum(errors.values()), 0.4, N)
    assert emulator.stats()["faults"] == errors


def test_429_carries_retry_after(emulator: EmulatorHandle, client: httpx.Client) -> None:
    emulator.set_faults(rate_429=1.0, retry_after_s=3)
    response = client.get(f"{API_PREFIX}/f")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def test_responses_that_never_come_time_the_client_out(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.set_faults(hang_rate=0.1, hang_seconds=0.6)
    client.timeout = httpx.Timeout(10, read=0.3)
    seen = Counter(_add(client, f"h-{i}") for i in range(100))
    stats = emulator.stats(batch_id="f")
    hung = stats["faults"]["hang"]
    assert _within(hung, 0.1, 100)
    assert seen["timeout"] >= hung  # every held request timed out (a slow machine may add more)
    assert seen["200"] + seen["timeout"] == 100
    # held requests were never applied; every other one was, answered in time or not
    assert sum(c["applied"] for c in stats["requests"]["f"].values()) == 100 - hung


def test_latency_delays_every_request(emulator: EmulatorHandle, client: httpx.Client) -> None:
    emulator.set_faults(latency_ms=40, latency_jitter_ms=10)
    for _ in range(5):
        response = client.get(f"{API_PREFIX}/f")
        assert response.status_code == 200
        assert response.elapsed.total_seconds() >= 0.04
    assert emulator.stats()["faults"] == {"latency": 5}


def test_the_same_seed_replays_the_same_faults(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    runs = []
    for _ in range(2):
        emulator.reset()
        client.post(API_PREFIX, json={"batch_id": "f", "campaign_id": 1, "paused": True})
        emulator.set_faults(error_rate=0.2, rate_429=0.1, drop_rate=0.1)
        runs.append([_add(client, f"s-{i}") for i in range(60)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 2


def test_ambiguous_success_applies_the_change(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.set_faults(ambiguous_rate=1.0)
    assert _add(client, "amb-1") == "drop"
    with pytest.raises(DROPPED):
        client.post(API_PREFIX, json={"batch_id": "amb-batch", "campaign_id": 2})
    emulator.clear_faults()
    rows = client.get(f"{API_PREFIX}/f/results", params={"reference_id": "amb-1"}).json()
    assert [r["reference_id"] for r in rows] == ["amb-1"]
    assert client.get(f"{API_PREFIX}/amb-batch").status_code == 200
    assert _add(client, "amb-1") == "409"  # the retry learns it is already there
    stats = emulator.stats(batch_id="f")
    assert stats["requests"]["f"]["amb-1"] == {"received": 2, "applied": 1}
    assert stats["creates"]["amb-batch"] == {"received": 1, "applied": 1}


def test_faults_only_hit_the_configured_methods(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.set_faults(error_rate=1.0, fault_methods=["POST"])
    assert client.get(f"{API_PREFIX}/f").status_code == 200
    assert _add(client, "m-1") in {"500", "502", "503", "504"}


def test_the_admin_api_is_never_faulted(emulator: EmulatorHandle) -> None:
    emulator.set_faults(error_rate=1.0)
    assert emulator.health()["ok"] is True


def test_bad_fault_settings_are_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        emulator.set_faults(eror_rate=0.1)
    with pytest.raises(ValueError, match="add up to"):
        emulator.set_faults(error_rate=0.7, drop_rate=0.7)


def test_rate_limit_answers_429_beyond_the_bucket(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.set_faults(rate_limit=5)
    codes = [client.get(f"{API_PREFIX}/f").status_code for _ in range(30)]
    assert codes[:5] == [200] * 5
    assert 429 in codes
    limited = client.get(f"{API_PREFIX}/f")
    if limited.status_code == 429:
        assert int(limited.headers["retry-after"]) >= 1
    assert emulator.stats()["faults"]["rate_limited"] == codes.count(429) + (
        limited.status_code == 429
    )


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert [bucket.take("k") for _ in range(2)] == [0.0, 0.0]
    assert bucket.take("k") == pytest.approx(0.5)
    assert bucket.take("other") == 0.0  # per key
    now[0] += 0.5
    assert bucket.take("k") == 0.0
    assert bucket.take("k") > 0.0
