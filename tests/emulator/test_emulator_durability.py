"""An emulator started with ``--db`` and killed with SIGKILL still has everything it acknowledged.

The emulator commits before it answers, so every 200 a client saw must survive the crash; that
is what the client's resume and reconciliation logic is tested against.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from uploader.emulator import API_PREFIX

pytestmark = pytest.mark.slow

CSV = b"reference_id,target,name\n" + b"".join(
    f"up-{i},+1512555{i:04d},n{i}\n".encode() for i in range(500)
)


def test_kill_9_keeps_every_acknowledged_batch_and_request(emulator_process) -> None:
    proc = emulator_process(db=True)
    headers = {"Syllable-API-Key": proc.api_key}
    with httpx.Client(base_url=proc.url, headers=headers, timeout=10) as client:
        assert client.post(API_PREFIX, json={"batch_id": "d-1", "campaign_id": 1}).is_success
        assert client.post(
            API_PREFIX, json={"batch_id": "d-2", "campaign_id": 2, "paused": True}
        ).is_success
        assert client.put(f"{API_PREFIX}/d-2", json={"call_rate": 77}).is_success
        assert client.post(API_PREFIX, json={"batch_id": "d-3", "campaign_id": 3}).is_success
        assert client.request(
            "DELETE", f"{API_PREFIX}/d-3", data={"delete_reason": "crash test"}
        ).is_success
        assert client.post(
            f"{API_PREFIX}/d-2/upload_batch", files={"file": ("up.csv", CSV, "text/csv")}
        ).is_success
        # an upload acknowledged but not processed yet must be processed after the restart
        proc.configure(upload_delay_s=60)
        assert client.post(API_PREFIX, json={"batch_id": "d-4", "campaign_id": 4}).is_success
        assert client.post(
            f"{API_PREFIX}/d-4/upload_batch", files={"file": ("late.csv", CSV, "text/csv")}
        ).is_success

    acknowledged: list[str] = []
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with httpx.Client(base_url=proc.url, headers=headers, timeout=5) as c:
            i = 0
            while not stop.is_set():
                ref = f"w{worker}-{i}"
                body = {"reference_id": ref, "target": "+15125550100", "request_variables": {}}
                try:
                    response = c.post(f"{API_PREFIX}/d-1/requests", json=body)
                except httpx.TransportError:
                    return  # the server died under us: unacknowledged
                if response.status_code == 200:
                    acknowledged.append(ref)
                i += 1

    workers = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()  # SIGKILL mid-stream
    stop.set()
    for w in workers:
        w.join()
    assert len(acknowledged) >= 200

    proc.restart()
    with httpx.Client(base_url=proc.url, headers=headers, timeout=10) as client:
        stored = {r["reference_id"] for r in client.get(f"{API_PREFIX}/d-1/results").json()}
        assert set(acknowledged) <= stored
        d2 = client.get(f"{API_PREFIX}/d-2").json()
        assert (d2["paused"], d2["call_rate"], d2["upload_filename"]) == (True, 77, "up.csv")
        assert d2["status_counts"] == {"PENDING": 500}
        d3 = client.get(f"{API_PREFIX}/d-3").json()
        assert (d3["status"], d3["deleted_reason"]) == ("CANCELED", "crash test")
        deadline = time.monotonic() + 10
        while client.get(f"{API_PREFIX}/d-4").json()["status"] == "PENDING":
            assert time.monotonic() < deadline, "queued upload not processed after restart"
            time.sleep(0.05)
        assert len(client.get(f"{API_PREFIX}/d-4/results").json()) == 500
        # a duplicate create after the restart is still refused
        again = client.post(API_PREFIX, json={"batch_id": "d-1", "campaign_id": 1})
        assert again.status_code == 409
