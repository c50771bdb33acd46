"""Behaviour the spec leaves to the service: upload parsing, simulated outreach, soft delete."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploader.emulator import API_PREFIX, EmulatorHandle
from uploader.emulator.upload import UploadRejected, is_valid_target, parse_upload


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    emulator.configure(upload_delay_s=0.0)
    headers = {"Syllable-API-Key": emulator.api_key}
    with httpx.Client(base_url=emulator.url, headers=headers, timeout=10) as c:
        yield c


def _wait(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
    return value


def _create(client: httpx.Client, batch_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post(API_PREFIX, json={"batch_id": batch_id, "campaign_id": 1, **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _upload(client: httpx.Client, batch_id: str, content: bytes, name: str = "f.csv") -> None:
    files = {"file": (name, content, "text/csv")}
    response = client.post(f"{API_PREFIX}/{batch_id}/upload_batch", files=files)
    assert response.status_code == 200, response.text


def _settled(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    return dict(
        _wait(
            lambda: (
                (d := client.get(f"{API_PREFIX}/{batch_id}").json())["status"] != "PENDING" and d
            )
        )
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 zipped workbook", "is a spreadsheet, expected CSV"),
        (b"reference_id,target\n\xff\xfe1,2\n", "not UTF-8"),
        (b"", "the file is empty"),
        (b"reference_id,phone\n1,+15125550100\n", "Missing required fields: target"),
    ],
)
def test_unusable_files_fail_the_batch(client: httpx.Client, content: bytes, message: str) -> None:
    _create(client, "bad")
    _upload(client, "bad", content)
    details = _settled(client, "bad")
    assert details["status"] == "FAILED"
    assert message in details["error_message"]
    assert details["status_counts"] == {}


def test_upload_shows_pending_until_processed(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.configure(upload_delay_s=0.5)
    _create(client, "slow")
    _upload(client, "slow", b"reference_id,target\nr1,+15125550100\n")
    assert client.get(f"{API_PREFIX}/slow").json()["status"] == "PENDING"
    assert _settled(client, "slow")["status"] == "ACTIVE"


def test_upload_errors_are_clear(client: httpx.Client) -> None:
    response = client.post(f"{API_PREFIX}/missing/upload_batch", files={"file": ("a.csv", b"")})
    assert response.status_code == 404
    _create(client, "nofile")
    response = client.post(f"{API_PREFIX}/nofile/upload_batch", data={"x": "1"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_outreach_completes_at_high_time_scale_and_replays_with_the_seed(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    csv = b"reference_id,target\n" + b"".join(
        f"o-{i},+1512555{i:04d}\n".encode() for i in range(40)
    )
    outcomes = []
    for _ in range(2):
        emulator.reset()
        emulator.configure(time_scale=50_000, upload_delay_s=0.0)
        _create(client, "calls", call_rate=36_000)
        _upload(client, "calls", csv)

        def finished() -> list[dict[str, Any]] | None:
            rows = client.get(f"{API_PREFIX}/calls/results").json()
            done = all(r["request_status"] in ("COMPLETED", "FAILED") for r in rows)
            return rows if rows and done else None

        rows = _wait(finished)
        outcomes.append([(r["reference_id"], r["channel_manager_status"]) for r in rows])
    assert outcomes[0] == outcomes[1]
    statuses = {status for _, status in outcomes[0]}
    assert "COMPLETED" in statuses
    assert statuses - {"COMPLETED"}  # some calls fail, as real ones do


def test_paused_batches_make_no_calls_until_resumed(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.configure(time_scale=50_000)
    _create(client, "hold", paused=True, call_rate=36_000)
    body = {"reference_id": "h-1", "target": "+15125550100", "request_variables": {}}
    assert client.post(f"{API_PREFIX}/hold/requests", json=body).status_code == 200
    time.sleep(0.2)
    held = client.get(f"{API_PREFIX}/hold").json()
    assert (held["status"], held["status_counts"]) == ("PAUSED", {"PENDING": 1})
    assert client.put(f"{API_PREFIX}/hold", json={"paused": False}).json()["status"] == "ACTIVE"
    _wait(lambda: "PENDING" not in client.get(f"{API_PREFIX}/hold").json()["status_counts"])


def test_expired_batches_are_expired_and_make_no_calls(client: httpx.Client) -> None:
    _create(client, "old", expires_on="2020-01-01T00:00:00Z")
    body = {"reference_id": "x", "target": "+15125550100", "request_variables": {}}
    client.post(f"{API_PREFIX}/old/requests", json=body)
    details = client.get(f"{API_PREFIX}/old").json()
    assert (details["status"], details["status_counts"]) == ("EXPIRED", {"PENDING": 1})


def test_auto_call_rate_needs_an_expiry(client: httpx.Client) -> None:
    response = client.post(
        API_PREFIX, json={"batch_id": "auto", "campaign_id": 1, "auto_call_rate": True}
    )
    assert response.status_code == 400
    assert "expires_on" in response.json()["detail"]


def test_deleted_batches_refuse_changes_and_cancel_pending_requests(client: httpx.Client) -> None:
    _create(client, "gone", paused=True)
    body = {"reference_id": "g-1", "target": "+15125550100", "request_variables": {}}
    client.post(f"{API_PREFIX}/gone/requests", json=body)
    client.request("DELETE", f"{API_PREFIX}/gone", data={"delete_reason": "done"})
    assert client.get(f"{API_PREFIX}/gone").json()["status_counts"] == {"CANCELED": 1}
    again = client.post(f"{API_PREFIX}/gone/requests", json={**body, "reference_id": "g-2"})
    assert again.status_code == 409
    assert "deleted" in again.json()["detail"]
    missing_reason = client.request("DELETE", f"{API_PREFIX}/gone")
    assert missing_reason.status_code == 422


def test_list_filters_by_datetime_and_returns_only_asked_fields(client: httpx.Client) -> None:
    first = _create(client, "l-1")
    _create(client, "l-2")
    listed = client.get(
        API_PREFIX, params={"start_datetime": first["created_at"], "fields": ["status"]}
    ).json()
    assert listed["total_count"] == 2
    assert set(listed["items"][0]) == {"batch_id", "campaign_id", "last_updated_by", "status"}
    none = client.get(API_PREFIX, params={"end_datetime": "2000-01-01T00:00:00Z"}).json()
    assert none["total_count"] == 0
    bad = client.get(API_PREFIX, params={"search_fields": ["status"]})
    assert bad.status_code == 400


@given(st.text(max_size=30))
def test_the_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        parsed = parse_upload(("reference_id,target\n" + text).encode(), "x.csv")
    except UploadRejected:
        return
    for ref, target, _variables, valid in parsed.rows:
        assert isinstance(ref, str)
        assert isinstance(target, str)
        assert valid == (bool(ref) and is_valid_target(target))


@pytest.mark.parametrize(
    ("target", "valid"),
    [
        ("+15125550100", True),
        ("(512) 555-0100", True),
        ("512.555.0100", True),
        ("+442071838750", True),
        ("+1512555010", False),
        ("555-0100", False),
        ("not a phone", False),
        ("", False),
    ],
)
def test_target_check(target: str, valid: bool) -> None:
    assert is_valid_target(target) is valid


def test_answered_calls_are_connected_before_they_complete(
    emulator: EmulatorHandle, client: httpx.Client
) -> None:
    emulator.configure(time_scale=200, success_rate=1.0, call_seconds=[3600, 3600])
    _create(client, "talk", call_rate=360_000)
    body = {"reference_id": "t-1", "target": "+15125550100", "request_variables": {}}
    client.post(f"{API_PREFIX}/talk/requests", json=body)
    row = _wait(
        lambda: (
            (r := client.get(f"{API_PREFIX}/talk/results").json()[0])["request_status"]
            == "CONNECTED"
            and r
        )
    )
    assert row["channel_manager_status"] == "IN-PROGRESS"
    assert row["attempt_count"] == 1
    assert row["sent_at"] is not None
    details = client.get(f"{API_PREFIX}/talk").json()
    assert details["detailed_status_counts"]["CONNECTED"] == {
        "total_count": 1,
        "counts": {"IN-PROGRESS": 1},
    }
