"""Fault injection as a raw ASGI middleware, plus the counters that prove exactly-once delivery.

The middleware sits in front of the nine Syllable operations only (``/api/``), never in front of
the admin API (``/_emulator``). With no fault configured it costs one attribute check per request.

Dropping a connection: uvicorn gives the app its ``send`` as a bound method of the request cycle,
which holds the transport; closing that transport is exactly what a crashed proxy does. Under any
other server the middleware raises :class:`ConnectionDropped` instead.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uploader.emulator.settings import FaultSettings

__all__ = ["ConnectionDropped", "EmulatorStats", "FaultMiddleware", "TokenBucket", "send_error"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionDropped(Exception):
    """Raised to abort a request when the server gives no transport to close."""


class EmulatorStats:
    """What the emulator saw and did, for tests that count deliveries.

    Per (batch_id, reference_id): ``received`` counts every add that arrived (including those a
    fault refused or dropped, and rows of an uploaded file), ``applied`` every time it was stored.
    Exactly-once delivery means ``applied == 1`` for every reference id, whatever ``received`` is.
    """

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, list[int]]] = defaultdict(dict)
        self.creates: dict[str, list[int]] = {}
        self.faults: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self.api_requests = 0

    def request_received(self, batch_id: str, reference_id: str) -> None:
        counts = self.requests[batch_id].get(reference_id)
        if counts is None:
            self.requests[batch_id][reference_id] = [1, 0]
        else:
            counts[0] += 1

    def request_applied(self, batch_id: str, reference_id: str, received: bool = False) -> None:
        counts = self.requests[batch_id].get(reference_id)
        if counts is None:
            self.requests[batch_id][reference_id] = [int(received), 1]
        else:
            counts[0] += int(received)
            counts[1] += 1

    def create_received(self, batch_id: str) -> None:
        self.creates.setdefault(batch_id, [0, 0])[0] += 1

    def create_applied(self, batch_id: str) -> None:
        self.creates.setdefault(batch_id, [0, 0])[1] += 1

    def to_dict(self, batch_id: str | None = None, with_requests: bool = True) -> dict[str, Any]:
        batches = [batch_id] if batch_id is not None else list(self.requests)
        requests: dict[str, dict[str, dict[str, int]]] = {}
        if with_requests:
            for b in batches:
                requests[b] = {
                    ref: {"received": c[0], "applied": c[1]}
                    for ref, c in self.requests.get(b, {}).items()
                }
        return {
            "api_requests": self.api_requests,
            "operations": dict(self.operations),
            "faults": dict(self.faults),
            "creates": {b: {"received": c[0], "applied": c[1]} for b, c in self.creates.items()},
            "creates_received": sum(c[0] for c in self.creates.values()),
            "creates_applied": sum(c[1] for c in self.creates.values()),
            "requests_received": sum(
                c[0] for refs in self.requests.values() for c in refs.values()
            ),
            "requests_applied": sum(c[1] for refs in self.requests.values() for c in refs.values()),
            "requests": requests,
        }


class TokenBucket:
    """A per-key token bucket: ``rate`` tokens a second, holding at most ``max(rate, 1)``."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Take a token; returns 0 when allowed, else the seconds until a token is available."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


async def send_error(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A ``{"detail": ...}`` error straight on the ASGI ``send`` (layers below the routes)."""
    body = json.dumps({"detail": detail}, separators=(",", ":"), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _drop(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped("emulated dropped connection")
    cycle.disconnected = True  # type: ignore[union-attr]  # uvicorn: send nothing, log nothing
    transport.close()


async def _discard(message: Message) -> None:
    return None


async def _drain(receive: Receive) -> bytes:
    """Read the whole request body first, as a proxy would before failing the request."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


def _count_refused(scope: Scope, body: bytes, stats: EmulatorStats) -> None:
    """A faulted add still counts as *received* for its reference id (never as applied)."""
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.endswith("/requests"):
        return
    try:
        ref = json.loads(body)["reference_id"]
    except (ValueError, KeyError, TypeError):
        return
    batch_id = path.rsplit("/", 2)[-2]
    if isinstance(ref, str):
        stats.request_received(batch_id, ref)


class FaultMiddleware:
    """Injects the configured faults; reads its settings from ``holder.faults`` on every request."""

    def __init__(self, app: ASGIApp, holder: Any) -> None:
        self.app = app
        self.holder = holder  # has .faults (FaultSettings), .fault_rng, .stats, .bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        holder = self.holder
        stats: EmulatorStats = holder.stats
        stats.api_requests += 1
        faults: FaultSettings = holder.faults
        if not faults.active:
            await self.app(scope, receive, send)
            return
        rng: random.Random = holder.fault_rng
        if faults.rate_limit:
            key = ""
            for name, value in scope["headers"]:
                if name == b"syllable-api-key":
                    key = value.decode("latin-1")
                    break
            wait = holder.bucket.take(key)
            if wait > 0:
                stats.faults["rate_limited"] += 1
                _count_refused(scope, await _drain(receive), stats)
                retry_after = str(max(1, int(wait + 0.999))).encode()
                await send_error(
                    send, 429, "Rate limit exceeded (emulated)", [(b"retry-after", retry_after)]
                )
                return
        if faults.latency_ms or faults.latency_jitter_ms:
            delay = faults.latency_ms + rng.random() * faults.latency_jitter_ms
            stats.faults["latency"] += 1
            await asyncio.sleep(delay / 1000.0)
        if faults.total_rate == 0.0 or (
            faults.fault_methods and scope["method"] not in faults.fault_methods
        ):
            await self.app(scope, receive, send)
            return
        draw = rng.random()
        if draw < faults.total_rate - faults.ambiguous_rate:
            _count_refused(scope, await _drain(receive), stats)
        edge = faults.rate_429
        if draw < edge:
            stats.faults["429"] += 1
            retry_after = str(faults.retry_after_s).encode()
            await send_error(
                send, 429, "Too many requests (emulated)", [(b"retry-after", retry_after)]
            )
            return
        edge += faults.error_rate
        if draw < edge:
            code = faults.error_codes[rng.randrange(len(faults.error_codes))]
            stats.faults[str(code)] += 1
            await send_error(send, code, f"Emulated server error {code}")
            return
        edge += faults.drop_rate
        if draw < edge:
            stats.faults["drop"] += 1
            _drop(send)
            return
        edge += faults.hang_rate
        if draw < edge:
            stats.faults["hang"] += 1
            await asyncio.sleep(faults.hang_seconds)
            _drop(send)
            return
        edge += faults.ambiguous_rate
        if draw < edge:
            stats.faults["ambiguous"] += 1
            await self.app(scope, receive, _discard)  # applied and committed ...
            _drop(send)  # ... but the client never hears back
            return
        await self.app(scope, receive, send)
