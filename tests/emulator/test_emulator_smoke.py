"""The fixtures other areas rely on work: in-process emulator and the real process."""

from __future__ import annotations

import httpx
import pytest

from uploader.emulator import API_PREFIX


def test_in_process_emulator_creates_and_reads_a_batch(emulator) -> None:
    headers = {"Syllable-API-Key": emulator.api_key}
    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        created = client.post(API_PREFIX, json={"batch_id": "smoke-1", "campaign_id": 3})
        assert created.status_code == 200
        assert client.get(f"{API_PREFIX}/smoke-1").json()["campaign_id"] == 3
    assert emulator.stats()["creates"] == {"smoke-1": {"received": 1, "applied": 1}}


def test_reset_between_tests_leaves_the_emulator_empty(emulator) -> None:
    headers = {"Syllable-API-Key": emulator.api_key}
    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        assert client.get(f"{API_PREFIX}/smoke-1").status_code == 404
    assert emulator.faults()["error_rate"] == 0.0


@pytest.mark.slow  # two process starts; the durability test covers this more deeply
def test_emulator_process_serves_and_restarts(emulator_process) -> None:
    proc = emulator_process(db=True)
    headers = {"Syllable-API-Key": proc.api_key}
    assert (
        httpx.post(
            proc.url + API_PREFIX, json={"batch_id": "p-1", "campaign_id": 1}, headers=headers
        ).status_code
        == 200
    )
    proc.kill()
    proc.restart()
    assert httpx.get(f"{proc.url}{API_PREFIX}/p-1", headers=headers).status_code == 200
