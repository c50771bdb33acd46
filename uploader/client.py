"""The Syllable outbound-batches API over httpx, with one retry policy and one error boundary.

Three ideas live here and nowhere else:

* :func:`classify` turns *anything* that can go wrong on the wire (an ``httpx`` exception or an
  error response) into our :class:`~uploader.errors.ApiError` tree, deciding transient (retried)
  versus permanent (recorded, never retried) in one place.
* :func:`retry_policy` builds the single tenacity policy from a :class:`RetryConfig`: exponential
  backoff with full jitter, ``Retry-After`` honoured, bounded by attempts and total time, each
  retry logged. ``sleep`` and the random source are injected so tests assert exact waits.
* Ambiguous POSTs (the request may have been applied but the answer was lost) are *reconciled*
  by reading the server's state before resending, and again when a resend answers "already
  exists": identical state is success, different state is a :class:`ConflictError`.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import select
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import certifi
import httpx
import tenacity

from uploader.config import ClientConfig, RetryConfig
from uploader.errors import (
    ApiError,
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

__all__ = [
    "API_KEY_HEADER",
    "RETRY_STATUSES",
    "PooledTransport",
    "SyllableClient",
    "batch_has_content",
    "batch_request_count",
    "check_usable_batch",
    "classify",
    "error_message",
    "parse_retry_after",
    "requests_match",
    "retry_policy",
]

log = logging.getLogger("uploader")

T = TypeVar("T")

API_KEY_HEADER = "Syllable-API-Key"
BATCHES = "/api/v1/outbound/batches"
#: Statuses worth another try; every other 4xx is the final answer.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Transport failures that happen before a request leaves this machine (never applied).
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


# --------------------------------------------------------------------------- transport


class PooledTransport(httpx.BaseTransport):
    """HTTP/1.1 keep-alive pool on the standard library's ``http.client``, behind httpx's API.

    Why: with many threads sending small requests (``--mode add``), httpcore's pure-Python
    HTTP/1.1 machinery was a large share of the client's CPU. Measured on this machine (16
    threads, no injected latency): about 290 microseconds of CPU per request for
    :class:`SyllableClient` on this transport against about 660 for a shared ``httpx.Client``
    on httpcore (see ``bench/bench_add.py`` for the throughput side by side). httpx keeps
    doing everything else (requests, headers, JSON, multipart, response decoding). Failures
    are raised as httpx's own exception types so :func:`classify` stays the one place that
    judges them. It does not speak to proxies: pass
    ``transport=httpx.HTTPTransport(proxy=...)`` for that.
    """

    def __init__(self, *, verify: bool = True, max_idle: int = 64) -> None:
        self._verify = verify
        self._context: ssl.SSLContext | None = None
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._busy: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context(cafile=certifi.where())
            if not self._verify:  # the user's explicit choice (--insecure); warned about
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._context = context
        return self._context

    def _acquire(
        self, key: tuple[str, str, int], connect_timeout: float | None
    ) -> http.client.HTTPConnection:
        with self._lock:
            if self._closed:
                raise httpx.ConnectError("the client is closed")
            idle = self._idle.get(key, [])
            while idle:
                reused = idle.pop()
                sock = reused.sock
                # a readable idle socket means the server closed it (EOF): do not reuse
                if sock is not None and not select.select([sock], [], [], 0)[0]:
                    self._busy.add(reused)
                    return reused
                reused.close()
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(f"connect timed out: {exc}") from exc
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        with self._lock:
            self._busy.add(conn)
        return conn

    def _release(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._busy.discard(conn)
            idle = self._idle.setdefault(key, [])
            if self._closed or len(idle) >= self._max_idle or conn.sock is None:
                conn.close()
            else:
                idle.append(conn)

    def _discard(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._busy.discard(conn)
        conn.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        conn = self._acquire(key, timeouts.get("connect"))
        body = request.read()
        phase = "write"
        try:
            if conn.sock is not None:
                conn.sock.settimeout(timeouts.get("write"))
            conn.putrequest(
                request.method,
                url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
            conn.endheaders(body or None)
            phase = "read"
            if conn.sock is not None:
                conn.sock.settimeout(timeouts.get("read"))
            answer = conn.getresponse()
            content = answer.read()
            headers = answer.getheaders()
            status = answer.status
            reusable = not answer.will_close
        except TimeoutError as exc:
            self._discard(conn)
            timeout: type[httpx.TimeoutException] = (
                httpx.WriteTimeout if phase == "write" else httpx.ReadTimeout
            )
            raise timeout(f"{phase} timed out") from exc
        except (http.client.HTTPException, OSError) as exc:
            self._discard(conn)
            broken: type[httpx.TransportError] = (
                httpx.WriteError if phase == "write" else httpx.RemoteProtocolError
            )
            raise broken(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            ) from exc
        if reusable:
            self._release(key, conn)
        else:
            self._discard(conn)
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(content), request=request
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for conn in conns:
            conn.close()


# --------------------------------------------------------------------------- errors boundary


def error_message(detail: Any) -> str:
    """The server's own words from an error body (FastAPI ``detail`` string or list)."""
    if isinstance(detail, Mapping) and "detail" in detail:
        detail = detail["detail"]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                msg = str(item.get("msg", item))
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is None:
        return ""
    return str(detail)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def classify(failure: httpx.Response | Exception, *, method: str = "", path: str = "") -> ApiError:
    """The ONE place that decides what a failure means: transient (retry) or permanent.

    Retried: 429, 500, 502, 503, 504, timeouts and dropped connections. Everything else in the
    4xx range is permanent and mapped to the most specific subclass. ``error.fields["sent"]``
    says whether the request may have reached the server (False only for connect failures and
    429, which are safe to resend without reconciling).
    """
    if isinstance(failure, httpx.Response):
        status = failure.status_code
        try:
            detail: Any = failure.json()
        except ValueError:
            detail = failure.text[:500]
        text = error_message(detail) or failure.reason_phrase
        retry_after = parse_retry_after(failure.headers.get("Retry-After"))
        message = f"{method} {path} -> HTTP {status}: {text}"
        kwargs: dict[str, Any] = dict(
            status_code=status, detail=detail, method=method, url=path, retry_after=retry_after
        )
        error: ApiError
        if status in RETRY_STATUSES or status >= 500:
            error = TransientApiError(message, **kwargs)
            error.fields["sent"] = status != 429
        elif status in (401, 403):
            error = AuthError(
                f"{method} {path} -> HTTP {status}: the API key was refused ({text})", **kwargs
            )
        elif status == 404:
            error = NotFoundError(message, **kwargs)
        elif status == 409 or "already exist" in text.lower():
            error = ConflictError(message, **kwargs)
        elif status == 422:
            error = RequestValidationError(message, **kwargs)
        else:
            error = PermanentApiError(message, **kwargs)
        error.fields["server_message"] = text
        return error
    if isinstance(failure, httpx.TransportError):
        cause = failure.__cause__ or failure.__context__
        if isinstance(cause, ssl.SSLCertVerificationError):
            return PermanentApiError(
                f"{method} {path} -> TLS certificate not trusted: {cause.verify_message}",
                method=method,
                url=path,
            )
        kind = type(failure).__name__
        error = TransientApiError(
            f"{method} {path} -> {kind}: {failure or 'connection problem'}",
            method=method,
            url=path,
        )
        error.fields["sent"] = not isinstance(failure, _NOT_SENT)
        return error
    if isinstance(failure, ApiError):
        return failure
    error = PermanentApiError(f"{method} {path} -> {type(failure).__name__}: {failure}")
    return error


# --------------------------------------------------------------------------- retry policy


class _FullJitterOrRetryAfter(tenacity.wait.wait_base):
    """Full-jitter exponential backoff, unless the server said how long to wait."""

    def __init__(self, config: RetryConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.lock = threading.Lock()

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        ceiling = min(
            self.config.max_wait,
            self.config.initial_wait * 2 ** (retry_state.attempt_number - 1),
        )
        with self.lock:
            return self.rng.uniform(0, ceiling)


class _StopWhenBudgetSpent(tenacity.stop.stop_base):
    """Stop before a sleep would carry the call past ``max_elapsed`` seconds.

    Elapsed time is the larger of wall time and the sum of sleeps, so an injected fake
    ``sleep`` still spends the budget deterministically.
    """

    def __init__(self, max_elapsed: float) -> None:
        self.max_elapsed = max_elapsed

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        spent = max(retry_state.seconds_since_start or 0.0, retry_state.idle_for)
        return spent + retry_state.upcoming_sleep > self.max_elapsed


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    log.warning(
        "retrying in %.2fs (attempt %d failed: %s)",
        retry_state.upcoming_sleep,
        retry_state.attempt_number,
        exc,
    )


def retry_policy(
    config: RetryConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tenacity.Retrying:
    """The one retry policy: retry transient API errors only, within attempts and time."""
    return tenacity.Retrying(
        # a nested call that already spent its own budget is not retried again
        retry=(
            tenacity.retry_if_exception_type(TransientApiError)
            & tenacity.retry_if_not_exception_type(RetriesExhausted)
        ),
        wait=_FullJitterOrRetryAfter(config, rng or random.Random()),
        stop=(
            tenacity.stop_after_attempt(max(1, config.max_attempts))
            | _StopWhenBudgetSpent(config.max_elapsed)
        ),
        sleep=sleep,
        before_sleep=_log_retry,
        reraise=False,
    )


# --------------------------------------------------------------------------- comparison


def _norm_vars(variables: Mapping[str, Any] | None) -> dict[str, str]:
    """Variables as the server stores them; an empty value and a missing one are the same."""
    return {str(k): str(v) for k, v in (variables or {}).items() if v not in (None, "")}


def requests_match(server: Mapping[str, Any], ours: CommunicationRequest) -> bool:
    """Does the server's copy of a request carry the same target and variables as ours?"""
    return str(server.get("target", "")) == ours.target and _norm_vars(
        server.get("request_variables")
    ) == _norm_vars(ours.request_variables)


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


# --------------------------------------------------------------------------- client


def check_usable_batch(batch_id: str, found: Mapping[str, Any], campaign_id: int | None) -> None:
    """A server batch we may fill: not deleted, and (given ``campaign_id``) in that campaign.

    Raises :class:`ConflictError` otherwise; the engine and the planner both ask this.
    """
    if found.get("deleted_at"):
        raise ConflictError(
            f"batch {batch_id} was deleted on the server "
            f"({found.get('deleted_reason') or 'no reason given'}); choose another batch id",
            status_code=409,
            detail=found.get("deleted_reason"),
        )
    if campaign_id is not None and int(found.get("campaign_id", -1)) != int(campaign_id):
        raise ConflictError(
            f"batch {batch_id} already exists in campaign {found.get('campaign_id')}, "
            f"not {campaign_id}",
            status_code=409,
        )


class SyllableClient:
    """The nine batch operations; retries and reconciliation built in, key never exposed."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_connections: int = 64,
    ) -> None:
        if not config.api_key:
            raise ConfigError(
                "no API key: pass --api-key-file, set SYLLABLE_API_KEY or add it to a profile"
            )
        if not config.verify_tls:
            log.warning(
                "TLS certificate verification is OFF for %s; never use this in production",
                config.server_url,
            )
        self.config = config
        self._policy = retry_policy(config.retry, sleep=sleep, rng=rng)
        # httpx's models and transports, without httpx.Client's per-request machinery (URL
        # merging, cookies, auth and redirect hooks: half its CPU per request, none of it
        # needed by a fixed base URL with one header); see bench/bench_add.py
        self._transport: httpx.BaseTransport = transport or PooledTransport(
            verify=config.verify_tls, max_idle=max_connections
        )
        self._base = config.server_url.rstrip("/")
        self._headers = httpx.Headers(
            {
                API_KEY_HEADER: config.api_key.reveal(),
                "User-Agent": config.user_agent,
                "Accept": "application/json",
            }
        )
        timeout = httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0))
        self._extensions = {"timeout": timeout.as_dict()}

    # -- lifecycle

    def __enter__(self) -> SyllableClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def __repr__(self) -> str:
        return f"SyllableClient({self.config.server_url!r})"

    # -- plumbing

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One HTTP exchange; every foreign exception leaves here as an ApiError."""
        try:
            request = httpx.Request(
                method,
                self._base + path,
                headers=self._headers,
                extensions=self._extensions,
                **kwargs,
            )
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise classify(exc, method=method, path=path) from exc
        if response.is_success:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                return response.text
        raise classify(response, method=method, path=path)

    def _call(
        self,
        method: str,
        path: str,
        *,
        reconcile: Callable[[], T | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send with retries; for non-idempotent calls, reconcile before any ambiguous resend.

        ``reconcile`` reads the server's state and returns it when our request is already
        applied (success), returns None when it is not (safe to send), or raises
        :class:`ConflictError` when the server holds something different.
        """
        maybe_applied = False

        def attempt() -> Any:
            nonlocal maybe_applied
            if maybe_applied and reconcile is not None:
                found = reconcile()
                if found is not None:
                    log.info(
                        "%s %s: already applied (reconciled after a lost answer)", method, path
                    )
                    return found
            try:
                return self._send(method, path, **kwargs)
            except TransientApiError as exc:
                maybe_applied = maybe_applied or bool(exc.fields.get("sent", True))
                raise
            except ConflictError:
                if reconcile is None:
                    raise
                found = reconcile()
                if found is None:
                    raise
                return found

        # fast path: the first attempt runs outside tenacity (most calls succeed at once);
        # a transient failure is then replayed as the policy's attempt 1, so the waits and
        # bounds are exactly the policy's
        try:
            return attempt()
        except RetriesExhausted:
            raise
        except TransientApiError as exc:
            replay: list[TransientApiError] = [exc]

        def again() -> Any:
            if replay:
                raise replay.pop()
            return attempt()

        try:
            return self._policy.copy()(again)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            message = f"gave up after {exc.last_attempt.attempt_number} attempts: {last}"
            raise RetriesExhausted(
                message,
                status_code=getattr(last, "status_code", None),
                detail=getattr(last, "detail", None),
                method=method,
                url=path,
            ) from last

    # -- the nine operations

    def list_batches(self, **params: Any) -> dict[str, Any]:
        """``GET /batches`` (ListResponse JSON); params as the API names them."""
        clean = {k: v for k, v in params.items() if v is not None}
        result: dict[str, Any] = self._call("GET", BATCHES, params=clean)
        return result

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """``GET /batches/{id}`` (BatchDetails JSON, including status counts)."""
        result: dict[str, Any] = self._call("GET", f"{BATCHES}/{batch_id}")
        return result

    def create_batch(
        self,
        batch_id: str,
        campaign_id: int,
        *,
        expires_on: datetime | str | None = None,
        paused: bool | None = None,
        call_rate: int | None = None,
        auto_call_rate: bool | None = None,
    ) -> dict[str, Any]:
        """Create a batch, exactly once: a lost answer or "already exists" is reconciled."""
        body: dict[str, Any] = {"batch_id": batch_id, "campaign_id": campaign_id}
        if expires_on is not None:
            body["expires_on"] = _iso(expires_on)
        if paused is not None:
            body["paused"] = paused
        if call_rate is not None:
            body["call_rate"] = call_rate
        if auto_call_rate:
            body["auto_call_rate"] = True

        result: dict[str, Any] = self._call(
            "POST", BATCHES, json=body, reconcile=lambda: self.existing_batch(batch_id, campaign_id)
        )
        return result

    def existing_batch(
        self, batch_id: str, campaign_id: int | None = None
    ) -> dict[str, Any] | None:
        """The server's batch, or None when it has none (reconciles a batch create).

        A deleted batch, or (given ``campaign_id``) one in another campaign, is a
        :class:`ConflictError`: it cannot be used.
        """
        try:
            found = self.get_batch(batch_id)
        except NotFoundError:
            return None
        check_usable_batch(batch_id, found, campaign_id)
        return found

    def update_batch(
        self, batch_id: str, *, paused: bool | None = None, expires_on: datetime | str | None = None
    ) -> dict[str, Any]:
        """``PUT /batches/{id}``: idempotent, so retried freely."""
        body: dict[str, Any] = {}
        if paused is not None:
            body["paused"] = paused
        if expires_on is not None:
            body["expires_on"] = _iso(expires_on)
        result: dict[str, Any] = self._call("PUT", f"{BATCHES}/{batch_id}", json=body)
        return result

    def delete_batch(self, batch_id: str, reason: str) -> Any:
        """``DELETE /batches/{id}`` with the required reason."""
        return self._call("DELETE", f"{BATCHES}/{batch_id}", data={"delete_reason": reason})

    def upload_batch(self, batch_id: str, content: bytes, filename: str) -> Any:
        """Upload one CSV into an empty batch; a batch that already has a file is success.

        A lost answer is reconciled with ``get_batch``: once the server shows an upload file
        or any requests on the batch, the upload happened and must not be repeated.
        """

        def reconcile() -> dict[str, Any] | None:
            found = self.get_batch(batch_id)
            return found if batch_has_content(found) else None

        return self._call(
            "POST",
            f"{BATCHES}/{batch_id}/upload_batch",
            files={"file": (filename, content, "text/csv")},
            reconcile=reconcile,
        )

    def results(
        self,
        batch_id: str,
        *,
        reference_id: str | None = None,
        status: str | None = None,
        insights_status: str | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /batches/{id}/results``, optionally narrowed to one reference id or status."""
        params = {
            k: v
            for k, v in {
                "reference_id": reference_id,
                "status": status,
                "insights_status": insights_status,
            }.items()
            if v is not None
        }
        result = self._call("GET", f"{BATCHES}/{batch_id}/results", params=params)
        return list(result or [])

    def find_request(self, batch_id: str, reference_id: str) -> dict[str, Any] | None:
        """The server's copy of one request, or None when the batch does not hold it."""
        for item in self.results(batch_id, reference_id=reference_id):
            if str(item.get("reference_id")) == reference_id:
                return item
        return None

    def reconcile_request(
        self, batch_id: str, request: CommunicationRequest
    ) -> dict[str, Any] | None:
        """Server copy if it matches ours, None if absent, ConflictError if it differs."""
        found = self.find_request(batch_id, request.reference_id)
        if found is None:
            return None
        if requests_match(found, request):
            return found
        raise ConflictError(
            f"reference_id {request.reference_id!r} is already in batch {batch_id} "
            "with a different target or variables",
            status_code=409,
        )

    def add_request(self, batch_id: str, request: CommunicationRequest) -> Any:
        """Add one request, exactly once: lost answers and "already exists" are reconciled."""
        return self._call(
            "POST",
            f"{BATCHES}/{batch_id}/requests",
            json=request.to_api(),
            reconcile=lambda: self.reconcile_request(batch_id, request),
        )

    def remove_requests(self, batch_id: str, reference_ids: list[str]) -> Any:
        """Remove requests by reference id (idempotent in effect, so retried freely)."""
        return self._call("POST", f"{BATCHES}/{batch_id}/remove-requests", json=list(reference_ids))


def batch_request_count(batch: Mapping[str, Any] | None) -> int:
    """How many requests a batch holds, by its own ``status_counts`` (0 for no batch)."""
    counts = (batch or {}).get("status_counts") or {}
    return sum(int(v or 0) for v in counts.values())


def batch_has_content(batch: Mapping[str, Any]) -> bool:
    """True once a batch shows an uploaded file or holds any request."""
    return bool(batch.get("upload_filename")) or batch_request_count(batch) > 0
