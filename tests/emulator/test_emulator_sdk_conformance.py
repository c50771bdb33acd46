"""The official ``syllable-sdk`` client cannot tell the emulator from the real service.

Every one of the nine operations is driven through ``SyllableSDK.outbound.batches`` and its answer
must parse into the SDK's models with the values we expect; 422 and 404 surface as the SDK's own
error types.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from syllable_sdk import SyllableSDK, errors, models

from uploader.emulator import EmulatorHandle

CSV = (
    b"reference_id,target,first_name,amount\n"
    b"u-1,+15125550101,Ada,10\n"
    b"u-2,(512) 555-0102,Grace,20\n"
    b"u-3,not-a-phone,Linus,30\n"
    b"u-1,+15125550199,Ada again,40\n"
)


@pytest.fixture
def sdk(emulator: EmulatorHandle) -> Iterator[SyllableSDK]:
    emulator.configure(upload_delay_s=0.0)
    with SyllableSDK(server_url=emulator.url, api_key_header=emulator.api_key) as client:
        yield client


def _batches(sdk: SyllableSDK):  # type: ignore[no-untyped-def]
    return sdk.outbound.batches


def _wait_for(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_create_returns_a_communication_batch_with_the_union_of_fields(sdk: SyllableSDK) -> None:
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    created = _batches(sdk).create(
        request={
            "batch_id": "conf-create",
            "campaign_id": 42,
            "expires_on": expires,
            "paused": True,
            "call_rate": 120,
        }
    )
    assert isinstance(created, models.CommunicationBatch)
    assert created.batch_id == "conf-create"
    assert created.campaign_id == 42
    assert created.expires_on == expires
    assert created.paused is True
    assert created.call_rate == 120
    assert created.auto_call_rate is False
    assert created.status == models.BatchStatus.PAUSED
    assert created.created_at is not None
    assert created.last_updated_by


def test_create_twice_is_a_409_api_error_with_a_clear_detail(sdk: SyllableSDK) -> None:
    _batches(sdk).create(request={"batch_id": "conf-dup", "campaign_id": 1})
    with pytest.raises(errors.APIError) as info:
        _batches(sdk).create(request={"batch_id": "conf-dup", "campaign_id": 1})
    assert info.value.status_code == 409
    assert "already exists" in info.value.body


def test_get_by_id_returns_batch_details_with_status_counts(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-get", "campaign_id": 5, "paused": True})
    batches.upload(
        batch_id="conf-get",
        body_outbound_batch_upload={"file": {"file_name": "contacts.csv", "content": CSV}},
    )
    details = _wait_for(
        lambda: (
            (d := batches.get_by_id(batch_id="conf-get")).upload_filename
            and d.status != models.BatchStatus.PENDING
            and d
        )
    )
    assert isinstance(details, models.BatchDetails)
    assert details.upload_filename == "contacts.csv"
    assert details.status == models.BatchStatus.PAUSED
    assert details.status_counts == {"PENDING": 2, "INVALID": 1, "DUPLICATE": 1}
    assert details.detailed_status_counts is not None
    pending = details.detailed_status_counts["PENDING"]
    assert isinstance(pending, models.RequestStatusBreakdown)
    assert pending.total_count == 2


def test_get_by_id_of_an_unknown_batch_is_a_404_api_error(sdk: SyllableSDK) -> None:
    with pytest.raises(errors.APIError) as info:
        _batches(sdk).get_by_id(batch_id="no-such-batch")
    assert info.value.status_code == 404
    assert "no-such-batch" in info.value.body


def test_list_pages_and_counts(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    for i in range(5):
        batches.create(request={"batch_id": f"conf-list-{i}", "campaign_id": 7 + i % 2})
    page = batches.list(limit=2, page=1, order_by="batch_id", order_by_direction="asc")
    assert isinstance(page, models.ListResponseCommunicationBatch)
    assert [b.batch_id for b in page.items] == ["conf-list-2", "conf-list-3"]
    assert page.total_count == 5
    assert page.total_pages == 3
    assert page.page == 1
    assert page.page_size == 2
    found = batches.list(search_fields=["campaign_id"], search_field_values=["8"])
    assert sorted(b.batch_id for b in found.items) == ["conf-list-1", "conf-list-3"]
    assert found.total_count == 2


def test_list_with_a_bad_limit_is_an_http_validation_error(sdk: SyllableSDK) -> None:
    with pytest.raises(errors.HTTPValidationError) as info:
        _batches(sdk).list(limit=-1)
    assert info.value.status_code == 422
    assert info.value.data.detail
    assert info.value.data.detail[0].loc[-1] == "limit"


def test_update_changes_paused_expiry_and_rate(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-upd", "campaign_id": 1, "paused": True})
    expires = datetime.now(UTC) + timedelta(days=3)
    updated = batches.update(
        batch_id="conf-upd",
        communication_batch_update={"paused": False, "expires_on": expires, "call_rate": 90},
    )
    assert isinstance(updated, models.CommunicationBatch)
    assert updated.paused is False
    assert updated.call_rate == 90
    assert updated.expires_on is not None
    assert abs((updated.expires_on - expires).total_seconds()) < 1e-3
    with pytest.raises(errors.APIError) as info:
        batches.update(batch_id="conf-missing", communication_batch_update={"paused": True})
    assert info.value.status_code == 404


def test_delete_is_a_soft_delete_with_its_reason(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-del", "campaign_id": 1})
    batches.delete(batch_id="conf-del", body_outbound_batch_delete={"delete_reason": "typo"})
    details = batches.get_by_id(batch_id="conf-del")
    assert details.deleted_reason == "typo"
    assert details.deleted_at is not None
    assert details.status == models.BatchStatus.CANCELED
    assert "conf-del" not in [b.batch_id for b in batches.list().items]


def test_upload_stores_invalid_and_duplicate_rows_and_a_second_upload_is_refused(
    sdk: SyllableSDK,
) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-up", "campaign_id": 1, "paused": True})
    accepted = batches.upload(
        batch_id="conf-up",
        body_outbound_batch_upload={"file": {"file_name": "c.csv", "content": CSV}},
    )
    assert accepted["upload_filename"] == "c.csv"
    rows = _wait_for(lambda: batches.results(batch_id="conf-up"))
    assert all(isinstance(r, models.CommunicationRequestResult) for r in rows)
    by_status = {(r.reference_id, r.target): r.request_status for r in rows}
    assert by_status == {
        ("u-1", "+15125550101"): models.RequestStatus.PENDING,
        ("u-2", "(512) 555-0102"): models.RequestStatus.PENDING,
        ("u-3", "not-a-phone"): models.RequestStatus.INVALID,
        ("u-1", "+15125550199"): models.RequestStatus.DUPLICATE,
    }
    assert rows[0].request_variables == {"first_name": "Ada", "amount": "10"}
    with pytest.raises(errors.APIError) as info:
        batches.upload(
            batch_id="conf-up",
            body_outbound_batch_upload={"file": {"file_name": "again.csv", "content": CSV}},
        )
    assert info.value.status_code == 409
    assert "one file" in info.value.body


def test_an_unparseable_file_fails_the_batch_with_an_error_message(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-bad", "campaign_id": 1})
    batches.upload(
        batch_id="conf-bad",
        body_outbound_batch_upload={"file": {"file_name": "x.csv", "content": b"name\nAda\n"}},
    )
    details = _wait_for(
        lambda: (
            (d := batches.get_by_id(batch_id="conf-bad")).status == models.BatchStatus.FAILED and d
        )
    )
    assert details.error_message == "Missing required fields: reference_id, target"


def test_results_filters_and_simulated_outreach(sdk: SyllableSDK, emulator: EmulatorHandle) -> None:
    emulator.configure(time_scale=20_000)
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-res", "campaign_id": 1, "call_rate": 3600})
    for i in range(6):
        batches.add(
            batch_id="conf-res",
            communication_request={
                "reference_id": f"r-{i}",
                "target": f"+1512555{i:04d}",
                "request_variables": {"i": str(i)},
            },
        )
    done = _wait_for(
        lambda: (
            len(
                [
                    r
                    for r in batches.results(batch_id="conf-res")
                    if r.request_status
                    in (models.RequestStatus.COMPLETED, models.RequestStatus.FAILED)
                ]
            )
            == 6
        )
    )
    assert done
    rows = batches.results(batch_id="conf-res")
    for row in rows:
        assert row.attempt_count >= 1
        assert row.sent_at is not None
        assert row.session_id is not None
        assert row.conversation_id is not None
        assert row.channel_manager_status
    one = batches.results(batch_id="conf-res", reference_id="r-3")
    assert [r.reference_id for r in one] == ["r-3"]
    completed = batches.results(batch_id="conf-res", status="COMPLETED")
    assert all(r.request_status == models.RequestStatus.COMPLETED for r in completed)
    insights = _wait_for(
        lambda: (
            batches.results(batch_id="conf-res", insights_status="COMPLETED")
            if completed
            else [True]
        )
    )
    assert insights
    with pytest.raises(errors.APIError) as info:
        batches.results(batch_id="conf-nope")
    assert info.value.status_code == 404


def test_add_then_duplicate_reference_is_a_409_and_bad_body_a_422(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-add", "campaign_id": 1, "paused": True})
    request = {"reference_id": "a-1", "target": "+15125550111", "request_variables": {"x": "1"}}
    added = batches.add(batch_id="conf-add", communication_request=request)
    assert added["reference_id"] == "a-1"
    assert added["request_status"] == "PENDING"
    with pytest.raises(errors.APIError) as info:
        batches.add(batch_id="conf-add", communication_request=request)
    assert info.value.status_code == 409
    assert "already exists" in info.value.body
    with pytest.raises(errors.HTTPValidationError) as invalid:
        batches.add(
            batch_id="conf-add",
            communication_request={"reference_id": "", "target": "+1", "request_variables": {}},
        )
    assert invalid.value.data.detail[0].loc == ["body", "reference_id"]
    with pytest.raises(errors.APIError) as missing:
        batches.add(batch_id="conf-none", communication_request=request)
    assert missing.value.status_code == 404


def test_remove_takes_a_list_of_reference_ids(sdk: SyllableSDK) -> None:
    batches = _batches(sdk)
    batches.create(request={"batch_id": "conf-rm", "campaign_id": 1, "paused": True})
    for ref in ("k-1", "k-2", "k-3"):
        batches.add(
            batch_id="conf-rm",
            communication_request={
                "reference_id": ref,
                "target": "+15125550111",
                "request_variables": {},
            },
        )
    answer = batches.remove(batch_id="conf-rm", request_body=["k-1", "k-3", "k-9"])
    assert answer["removed_count"] == 2
    assert answer["not_found"] == ["k-9"]
    assert [r.reference_id for r in batches.results(batch_id="conf-rm")] == ["k-2"]
    assert batches.get_by_id(batch_id="conf-rm").status_counts == {"PENDING": 1}


def test_a_wrong_key_is_refused(emulator: EmulatorHandle) -> None:
    with (
        SyllableSDK(server_url=emulator.url, api_key_header="wrong") as client,
        pytest.raises(errors.APIError) as info,
    ):
        client.outbound.batches.list()
    assert info.value.status_code == 403
    with SyllableSDK(server_url=emulator.url) as anonymous, pytest.raises(errors.APIError) as no:
        anonymous.outbound.batches.list()
    assert no.value.status_code == 401
