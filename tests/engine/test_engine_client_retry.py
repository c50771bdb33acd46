"""The retry policy's timing and the error boundary, against a scripted transport.

This is the one place a fake transport is allowed: it lets the test assert the exact wait
sequence (seeded jitter, Retry-After) without waiting. Behaviour against a real server lives in
the emulator-backed tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from uploader.client import (
    API_KEY_HEADER,
    SyllableClient,
    classify,
    error_message,
    parse_retry_after,
)
from uploader.config import ApiKey, ClientConfig, RetryConfig
from uploader.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PermanentApiError,
    RequestValidationError,
    RetriesExhausted,
    TransientApiError,
)
from uploader.models import CommunicationRequest

KEY = "sk-test-0123456789abcdef"
Step = httpx.Response | Exception


def scripted(steps: list[Step], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that answers with ``steps`` in order (exceptions are raised)."""
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(handler)


def make_client(
    steps: list[Step], retry: RetryConfig | None = None, seed: int = 7
) -> tuple[SyllableClient, list[float], list[httpx.Request]]:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []
    config = ClientConfig(
        server_url="http://api.test", api_key=ApiKey(KEY), retry=retry or RetryConfig()
    )
    client = SyllableClient(
        config, transport=scripted(steps, seen), sleep=sleeps.append, rng=random.Random(seed)
    )
    return client, sleeps, seen


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"batch_id": "b"})


def expected_jitter(seed: int, ceilings: list[float]) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0, c) for c in ceilings]


def test_full_jitter_exponential_backoff_exact_waits() -> None:
    config = RetryConfig(max_attempts=5, initial_wait=0.5, max_wait=1.5)
    client, sleeps, seen = make_client(
        [httpx.Response(503), httpx.Response(500), httpx.Response(502), httpx.Response(504), ok()],
        config,
    )
    assert client.get_batch("b") == {"batch_id": "b"}
    # ceilings 0.5, 1.0, 2.0 -> capped 1.5, 4.0 -> capped 1.5
    assert sleeps == expected_jitter(7, [0.5, 1.0, 1.5, 1.5])
    assert len(seen) == 5


def test_retry_after_seconds_is_honoured_exactly() -> None:
    client, sleeps, _ = make_client(
        [httpx.Response(429, headers={"Retry-After": "3"}), ok()],
    )
    client.get_batch("b")
    assert sleeps == [3.0]


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = format_datetime(datetime(2026, 1, 2, 3, 4, 17, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=lambda: now.timestamp()) == 12.0
    assert parse_retry_after("7", now=lambda: 0.0) == 7.0
    assert parse_retry_after("yesterday-ish", now=lambda: 0.0) is None
    past = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past, now=lambda: now.timestamp()) == 0.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.ReadTimeout("slow read"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_transport_failures_are_retried(failure: Exception) -> None:
    client, sleeps, seen = make_client([failure, ok()])
    client.get_batch("b")
    assert len(seen) == 2 and len(sleeps) == 1


def test_attempts_are_bounded_and_end_in_retries_exhausted() -> None:
    config = RetryConfig(max_attempts=3, initial_wait=0.1, max_wait=1)
    client, sleeps, seen = make_client([httpx.Response(503)] * 3, config)
    with pytest.raises(RetriesExhausted) as info:
        client.get_batch("b")
    assert len(seen) == 3 and len(sleeps) == 2
    assert info.value.status_code == 503
    assert isinstance(info.value.__cause__, TransientApiError)


def test_total_time_is_bounded_before_a_long_wait() -> None:
    config = RetryConfig(max_attempts=10, max_elapsed=10.0)
    client, sleeps, seen = make_client(
        [
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(429, headers={"Retry-After": "4"}),
            ok(),
        ],
        config,
    )
    with pytest.raises(RetriesExhausted):
        client.get_batch("b")
    # 4 + 4 = 8 s spent; another 4 s would pass the 10 s budget, so no third sleep
    assert sleeps == [4.0, 4.0]
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, PermanentApiError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, RequestValidationError),
    ],
)
def test_other_4xx_are_never_retried(status: int, cls: type[Exception]) -> None:
    client, sleeps, seen = make_client([httpx.Response(status, json={"detail": "nope"})])
    with pytest.raises(cls) as info:
        client.list_batches()
    assert sleeps == [] and len(seen) == 1
    assert not isinstance(info.value, TransientApiError)


@pytest.mark.parametrize(
    ("failure", "cls", "sent"),
    [
        (httpx.Response(429), TransientApiError, False),
        (httpx.Response(500), TransientApiError, True),
        (httpx.Response(503), TransientApiError, True),
        (httpx.Response(599), TransientApiError, True),
        (httpx.ConnectError("x"), TransientApiError, False),
        (httpx.PoolTimeout("x"), TransientApiError, False),
        (httpx.ReadTimeout("x"), TransientApiError, True),
        (httpx.WriteTimeout("x"), TransientApiError, True),
        (httpx.ReadError("x"), TransientApiError, True),
        (httpx.RemoteProtocolError("x"), TransientApiError, True),
        (httpx.Response(401), AuthError, None),
        (httpx.Response(404), NotFoundError, None),
        (httpx.Response(409), ConflictError, None),
        (httpx.Response(400, json={"detail": "Batch already exists"}), ConflictError, None),
        (httpx.Response(422, json={"detail": []}), RequestValidationError, None),
        (httpx.Response(418), PermanentApiError, None),
    ],
)
def test_classify_maps_every_failure(
    failure: httpx.Response | Exception, cls: type[Exception], sent: bool | None
) -> None:
    error = classify(failure, method="POST", path="/x")
    assert type(error) is cls
    if sent is not None:
        assert error.fields["sent"] is sent


def test_server_message_of_a_422_is_kept_word_for_word() -> None:
    body = {"detail": [{"loc": ["body", "target"], "msg": "Invalid phone number", "type": "x"}]}
    assert error_message(body) == "target: Invalid phone number"
    client, _, _ = make_client([httpx.Response(422, json=body)])
    request = CommunicationRequest("r1", "+15125550100", {})
    with pytest.raises(RequestValidationError) as info:
        client.add_request("b", request)
    assert "target: Invalid phone number" in str(info.value)
    assert info.value.fields["server_message"] == "target: Invalid phone number"


def _results(ref: str, target: str, variables: dict[str, str]) -> httpx.Response:
    return httpx.Response(
        200, json=[{"reference_id": ref, "target": target, "request_variables": variables}]
    )


def test_ambiguous_post_is_reconciled_before_resending() -> None:
    request = CommunicationRequest("r1", "+15125550100", {"name": "Ann"})
    client, _, seen = make_client(
        [httpx.ReadTimeout("lost answer"), _results("r1", "+15125550100", {"name": "Ann"})]
    )
    client.add_request("b", request)
    assert [r.method for r in seen] == ["POST", "GET"]  # found on the server: no resend
    assert seen[1].url.params["reference_id"] == "r1"


def test_ambiguous_post_absent_on_server_is_resent() -> None:
    request = CommunicationRequest("r1", "+15125550100", {})
    client, _, seen = make_client(
        [httpx.Response(502), httpx.Response(200, json=[]), httpx.Response(200, json=None)]
    )
    client.add_request("b", request)
    assert [r.method for r in seen] == ["POST", "GET", "POST"]


def test_429_is_resent_without_reconciling() -> None:
    request = CommunicationRequest("r1", "+15125550100", {})
    client, _, seen = make_client([httpx.Response(429), ok()])
    client.add_request("b", request)
    assert [r.method for r in seen] == ["POST", "POST"]


def test_already_exists_with_same_content_is_success_and_different_is_conflict() -> None:
    request = CommunicationRequest("r1", "+15125550100", {"name": "Ann", "empty": ""})
    client, _, _ = make_client(
        [httpx.Response(409), _results("r1", "+15125550100", {"name": "Ann"})]
    )
    client.add_request("b", request)
    client, _, _ = make_client(
        [httpx.Response(409), _results("r1", "+15125550199", {"name": "Ann"})]
    )
    with pytest.raises(ConflictError, match="different target or variables"):
        client.add_request("b", request)


def test_create_batch_reconciles_a_lost_answer() -> None:
    found = {"batch_id": "b1", "campaign_id": 5, "paused": True}
    client, _, seen = make_client([httpx.RemoteProtocolError("gone"), ok(found)])
    assert client.create_batch("b1", 5, paused=True) == found
    assert [r.method for r in seen] == ["POST", "GET"]
    client, _, _ = make_client([httpx.Response(409), ok({"batch_id": "b1", "campaign_id": 6})])
    with pytest.raises(ConflictError, match="campaign 6"):
        client.create_batch("b1", 5, paused=True)


def test_key_goes_in_the_header_only() -> None:
    client, _, seen = make_client([ok()])
    client.get_batch("b")
    assert seen[0].headers[API_KEY_HEADER] == KEY
    assert KEY not in repr(client) and KEY not in repr(client.config)
    assert KEY not in str(seen[0].url)


def test_missing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="API key"):
        SyllableClient(ClientConfig(server_url="http://api.test"))


def test_turning_tls_verification_off_warns(caplog: pytest.LogCaptureFixture) -> None:
    config = ClientConfig(server_url="https://api.test", api_key=ApiKey(KEY), verify_tls=False)
    caplog.set_level("WARNING", logger="uploader")
    with SyllableClient(config, transport=scripted([], [])):
        pass
    assert "TLS certificate verification is OFF" in caplog.text


def test_each_retry_is_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="uploader")
    client, _, _ = make_client([httpx.Response(503), ok()])
    client.get_batch("b")
    assert "retrying in" in caplog.text and "503" in caplog.text
    assert KEY not in caplog.text
