"""The FastAPI app: the nine outbound-batch operations, plus an admin API under ``/_emulator``.

Paths, methods, parameter names and bodies follow the Syllable reference spec; where the newest
``syllable-sdk`` models know more fields (``call_rate``, ``auto_call_rate``, ...), the emulator
accepts and returns the union. Choices the spec leaves open, made here once:

- Missing ``Syllable-API-Key`` header: 401. A key the emulator does not accept: 403.
- Unknown batch: 404. Existing ``batch_id`` on create: 409. A second file for a batch: 409.
- ``reference_id`` already in the batch on add: **409 Conflict**. The request conflicts with the
  batch's current state rather than being malformed (that is 422), and a distinct code lets a
  client that retried after a lost response recognise "already there" as its own earlier success.
- A change to a deleted batch (update, upload, add): 409. Deleting twice answers like the first.
- Add with a target that is not a phone number: stored with ``request_status`` INVALID (as an
  uploaded row would be), not refused.
- Responses are serialised by hand (no ``response_model`` validation): the hot paths stay cheap;
  the shapes are pinned by the SDK conformance test instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from uploader.emulator.faults import EmulatorStats, FaultMiddleware, TokenBucket, send_error
from uploader.emulator.outreach import Outreach
from uploader.emulator.schemas import (
    BatchDetails,
    BatchProperties,
    CommunicationBatch,
    CommunicationBatchInput,
    CommunicationBatchUpdate,
    CommunicationRequest,
    CommunicationRequestResult,
    ListResponseCommunicationBatch,
    OrderByDirection,
)
from uploader.emulator.settings import EmulatorSettings, FaultSettings
from uploader.emulator.store import Batch, Request, Store, iso, parse_datetime, utcnow
from uploader.emulator.upload import UploadRejected, is_valid_target, parse_upload

__all__ = ["ADMIN_PREFIX", "API_PREFIX", "EmulatorApp", "EmulatorState", "create_app"]

log = logging.getLogger("uploader.emulator")

API_PREFIX = "/api/v1/outbound/batches"
_EMPTY: list[Any] = []  # FastAPI copies defaults per request; this list is never mutated
ADMIN_PREFIX = "/_emulator"


# -- state ---------------------------------------------------------------------------------------
class EmulatorState:
    """Everything one emulator holds; the admin API and the fault middleware read it."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.initial = settings
        self.settings = settings
        self.store = Store(settings.db_path)
        self.outreach = Outreach(self.store, settings)
        self.stats = EmulatorStats()
        self.faults: FaultSettings = settings.faults
        self.fault_rng = random.Random(settings.seed)
        self.bucket = TokenBucket(settings.faults.rate_limit or 1.0)
        self.keys = frozenset(settings.api_keys)
        self.tasks: set[asyncio.Task[None]] = set()

    def set_faults(self, faults: FaultSettings) -> None:
        if faults.rate_limit != self.faults.rate_limit:
            self.bucket = TokenBucket(faults.rate_limit or 1.0)
        self.faults = faults

    def configure(self, **changes: Any) -> None:
        allowed = {
            "time_scale",
            "default_call_rate",
            "call_seconds",
            "insights_seconds",
            "success_rate",
            "upload_delay_s",
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)} at run time")
        if "call_seconds" in changes:
            changes["call_seconds"] = tuple(float(x) for x in changes["call_seconds"])
        # time so far runs at the old pace: bring every batch up to date before changing it
        for batch in self.store.batches.values():
            self.outreach.advance(batch)
        self.settings = replace(self.settings, **changes)
        self.outreach.settings = self.settings

    def reset(self) -> None:
        """Forget every batch and count; faults and knobs back to how the emulator started."""
        self.store.clear()
        self.settings = self.initial
        self.outreach.reset(self.initial)
        self.stats = EmulatorStats()
        self.set_faults(self.initial.faults)
        self.fault_rng = random.Random(self.initial.seed)
        self.bucket = TokenBucket(self.initial.faults.rate_limit or 1.0)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _json(data: Any, status: int = 200) -> Response:
    return Response(_dumps(data), status_code=status, media_type="application/json")


#: The API-key scheme, declared in the OpenAPI document; the check itself is :func:`_key_guard`
#: (a raw ASGI layer: as a FastAPI dependency it cost 40% of a small request).
_SECURITY_SCHEMES = {"APIKeyHeader": {"type": "apiKey", "in": "header", "name": "Syllable-API-Key"}}
_SECURED: dict[str, Any] = {"security": [{"APIKeyHeader": []}]}


_Endpoint = Callable[..., Awaitable[Response]]
_Decorator = Callable[[_Endpoint], _Endpoint]


def _not_found(batch_id: str) -> HTTPException:
    return HTTPException(404, f"Batch '{batch_id}' not found")


class EmulatorApp(FastAPI):
    """A FastAPI app whose outermost layer injects faults (so it can close the raw connection)."""

    emulator: EmulatorState
    _fault_layer: FaultMiddleware | None = None

    async def __call__(
        self,
        scope: Any,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if self._fault_layer is None:
            self._fault_layer = FaultMiddleware(self._key_guard, self.emulator)
        await self._fault_layer(scope, receive, send)

    async def _key_guard(
        self,
        scope: Any,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        """Missing ``Syllable-API-Key``: 401; a key the emulator does not accept: 403."""
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            key = None
            for name, value in scope["headers"]:
                if name == b"syllable-api-key":
                    key = value.decode("latin-1")
                    break
            if not key:
                await send_error(send, 401, "Missing Syllable-API-Key header")
                return
            if key not in self.emulator.keys:
                await send_error(send, 403, "Invalid API key")
                return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(settings: EmulatorSettings | None = None) -> EmulatorApp:
    """Build one emulator (its own state; ``settings.db_path`` makes it durable)."""
    settings = settings or EmulatorSettings()
    state = EmulatorState(settings)
    store = state.store

    def schedule_upload(batch: Batch, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def start() -> None:
            task = loop.create_task(process_upload(batch))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)

        loop.call_later(delay, start)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        for batch_id in list(store.pending_uploads):
            batch = store.batches.get(batch_id)
            if batch is not None:
                schedule_upload(batch, 0.0)
        yield
        store.close()

    app = EmulatorApp(
        title="Syllable outbound batches (local emulator)",
        version="1.0",
        lifespan=lifespan,
        servers=[{"url": "/"}],
    )
    app.emulator = state

    router = APIRouter(tags=["outbound.batches"])

    def operation(method: str, path: str, summary: str, model: Any = None) -> _Decorator:
        """One of the nine operations: key-secured, named after its function, as in the spec."""
        typed: dict[str, Any] = {}
        if model is not None:
            typed = {"response_model": None, "responses": {200: {"model": model}}}

        def register(endpoint: _Endpoint) -> _Endpoint:
            route = router.api_route(
                API_PREFIX + path,
                methods=[method],
                operation_id=endpoint.__name__,
                openapi_extra=_SECURED,
                summary=summary,
                **typed,
            )
            return route(endpoint)

        return register

    def get_batch(batch_id: str) -> Batch:
        batch = store.batches.get(batch_id)
        if batch is None:
            raise _not_found(batch_id)
        return batch

    def live_batch(batch_id: str) -> Batch:
        batch = get_batch(batch_id)
        if batch.deleted:
            raise HTTPException(409, f"Batch '{batch_id}' was deleted ({batch.deleted_reason})")
        return batch

    async def process_upload(batch: Batch) -> None:
        if store.batches.get(batch.batch_id) is not batch or batch.upload_state != "queued":
            return
        content = store.pending_uploads.get(batch.batch_id, b"")
        try:
            parsed = await asyncio.to_thread(parse_upload, content, batch.upload_filename)
        except UploadRejected as exc:
            if store.batches.get(batch.batch_id) is not batch:
                return
            batch.upload_state = "failed"
            batch.error_message = str(exc)
            batch.last_updated_at = iso(utcnow())
            store.finish_upload(batch, [])
            log.info("upload for batch %s failed: %s", batch.batch_id, exc)
            return
        if store.batches.get(batch.batch_id) is not batch:
            return  # reset while parsing
        created = iso(utcnow())
        assert created is not None
        # build the rows a slice at a time so a 100,000-row file does not stall other requests
        reqs: list[Request] = []
        for start in range(0, len(parsed.rows), 5000):
            if start:
                await asyncio.sleep(0)
            reqs.extend(
                Request(
                    pos=-1,
                    reference_id=ref,
                    target=target,
                    request_variables=variables,
                    created_at=created,
                    request_status="PENDING" if valid else "INVALID",
                )
                for ref, target, variables, valid in parsed.rows[start : start + 5000]
            )
        if store.batches.get(batch.batch_id) is not batch:
            return  # reset meanwhile
        # then attach them in one go (no await: positions and duplicates stay consistent)
        stats = state.stats
        batch_id = batch.batch_id
        index = batch.index
        for req in reqs:
            req.pos = len(batch.requests)
            if req.request_status == "PENDING" and req.reference_id in index:
                req.request_status = "DUPLICATE"
            batch.add_request(req)
            stats.request_applied(batch_id, req.reference_id, received=True)
        batch.upload_state = "done"
        batch.dispatch_id = uuid.uuid4().hex
        batch.last_updated_at = created
        batch.last_advance = time.monotonic()
        store.finish_upload(batch, reqs)
        log.info("batch %s: %d rows processed", batch_id, len(reqs))

    # -- the nine operations -------------------------------------------------------------------
    @operation("GET", "", "List Outbound Communication Batches", ListResponseCommunicationBatch)
    async def outbound_batch_list(
        page: Annotated[int | None, Query(ge=0, description="Page number (0-based)")] = 0,
        limit: Annotated[int, Query(ge=0, description="Maximum number of items")] = 25,
        search_fields: Annotated[list[BatchProperties], Query(description="Fields")] = _EMPTY,
        search_field_values: Annotated[list[str], Query(description="Values")] = _EMPTY,
        order_by: Annotated[BatchProperties | None, Query(description="Order by")] = None,
        order_by_direction: Annotated[OrderByDirection | None, Query()] = None,
        fields: Annotated[list[BatchProperties] | None, Query(description="Fields")] = _EMPTY,
        start_datetime: Annotated[str | None, Query(description="Created at/after")] = None,
        end_datetime: Annotated[str | None, Query(description="Created at/before")] = None,
    ) -> Response:
        state.stats.operations["outbound_batch_list"] += 1
        if len(search_fields) != len(search_field_values):
            raise HTTPException(
                400,
                f"search_fields ({len(search_fields)}) and search_field_values "
                f"({len(search_field_values)}) must have the same length",
            )
        try:
            start = parse_datetime(start_datetime)
            end = parse_datetime(end_datetime)
        except ValueError as exc:
            raise HTTPException(400, f"start_datetime/end_datetime: {exc}") from None
        now = utcnow()
        batches = [b for b in store.batches.values() if not b.deleted]
        for field_name, value in zip(search_fields, search_field_values, strict=True):
            batches = [b for b in batches if _matches(b, field_name, value, now)]
        if start or end:
            selected = []
            for b in batches:
                created = parse_datetime(b.created_at)
                assert created is not None
                if (start is None or created >= start) and (end is None or created <= end):
                    selected.append(b)
            batches = selected
        descending = order_by_direction != OrderByDirection.asc
        if order_by is None:
            batches.sort(key=lambda b: b.seq, reverse=descending)
        else:
            batches.sort(key=lambda b: _sort_key(b, order_by, now), reverse=descending)
        total = len(batches)
        page = page or 0
        items_src = batches[page * limit : (page + 1) * limit] if limit else []
        wanted = set(fields or ())
        items = []
        for b in items_src:
            state.outreach.advance(b, now)
            item = b.to_api(now)
            if wanted:
                keep = wanted | {"batch_id", "campaign_id", "last_updated_by"}
                item = {k: v for k, v in item.items() if k in keep}
            items.append(item)
        return _json(
            {
                "items": items,
                "page": page,
                "page_size": limit,
                "total_pages": math.ceil(total / limit) if limit else None,
                "total_count": total,
            }
        )

    @operation("POST", "", "Create Outbound Communication Batch", CommunicationBatch)
    async def outbound_batch_create(body: CommunicationBatchInput) -> Response:
        state.stats.operations["outbound_batch_create"] += 1
        state.stats.create_received(body.batch_id)
        if body.batch_id in store.batches:
            raise HTTPException(409, f"Batch '{body.batch_id}' already exists")
        if body.auto_call_rate and body.expires_on is None:
            raise HTTPException(400, "auto_call_rate requires expires_on")
        now = utcnow()
        batch = Batch(
            batch_id=body.batch_id,
            campaign_id=body.campaign_id,
            created_at=iso(now) or "",
            last_updated_by=state.settings.user_email,
            seq=store.next_seq,
            expires_on=_aware(body.expires_on),
            paused=body.paused,
            call_rate=body.call_rate,
            auto_call_rate=body.auto_call_rate,
            last_updated_at=iso(now),
        )
        batch.last_advance = time.monotonic()
        store.new_batch(batch)
        state.stats.create_applied(body.batch_id)
        return _json(batch.to_api(now))

    @operation("GET", "/{batch_id}", "Get Outbound Communication Batch", BatchDetails)
    async def outbound_batch_get_by_id(batch_id: str) -> Response:
        state.stats.operations["outbound_batch_get_by_id"] += 1
        batch = get_batch(batch_id)
        now = utcnow()
        state.outreach.advance(batch, now)
        return _json(batch.to_details(now))

    @operation("PUT", "/{batch_id}", "Update Outbound Communication Batch", CommunicationBatch)
    async def outbound_batch_update(batch_id: str, body: CommunicationBatchUpdate) -> Response:
        state.stats.operations["outbound_batch_update"] += 1
        batch = live_batch(batch_id)
        now = utcnow()
        state.outreach.advance(batch, now)
        changes = body.model_dump(exclude_unset=True)
        auto = changes.get("auto_call_rate", batch.auto_call_rate)
        expires = changes.get("expires_on", batch.expires_on)
        if auto and expires is None:
            raise HTTPException(400, "auto_call_rate requires expires_on")
        for name, value in changes.items():
            if name == "expires_on":
                value = _aware(value)
            if name == "auto_call_rate" and value is None:
                value = False
            setattr(batch, name, value)
        batch.last_updated_at = iso(now)
        store.save_batch(batch)
        return _json(batch.to_api(now))

    @operation("DELETE", "/{batch_id}", "Delete Outbound Communication Batch")
    async def outbound_batch_delete(
        batch_id: str, delete_reason: Annotated[str, Form()]
    ) -> Response:
        state.stats.operations["outbound_batch_delete"] += 1
        batch = get_batch(batch_id)
        now = utcnow()
        if not batch.deleted:
            state.outreach.advance(batch, now)
            batch.deleted_at = iso(now)
            batch.deleted_reason = delete_reason
            batch.last_updated_at = iso(now)
            canceled = [r for r in batch.requests if r.request_status == "PENDING"]
            for req in canceled:
                batch.set_status(req, "CANCELED", None)
            store.save_batch(batch, canceled)
        return _json(batch.to_api(now))

    @operation("POST", "/{batch_id}/upload_batch", "Upload Outbound Communication Batch")
    async def outbound_batch_upload(
        batch_id: str, file: Annotated[UploadFile | None, File()] = None
    ) -> Response:
        state.stats.operations["outbound_batch_upload"] += 1
        batch = live_batch(batch_id)
        if file is None:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body", "file"), "msg": "Field required"}]
            )
        if batch.upload_state != "none":
            raise HTTPException(
                409,
                f"Batch '{batch_id}' already has an uploaded file "
                f"({batch.upload_filename!r}); a batch takes exactly one file",
            )
        content = await file.read()
        batch.upload_filename = file.filename or "upload.csv"
        batch.upload_state = "queued"
        batch.last_updated_at = iso(utcnow())
        store.queue_upload(batch, content)
        schedule_upload(batch, state.settings.upload_delay_s)
        return _json(
            {
                "batch_id": batch_id,
                "upload_filename": batch.upload_filename,
                "status": "PENDING",
                "message": "File accepted; the batch shows ACTIVE once it is processed",
            }
        )

    @operation(
        "GET",
        "/{batch_id}/results",
        "Fetch Outbound Communication Batch Results",
        list[CommunicationRequestResult],
    )
    async def outbound_batch_results(
        batch_id: str,
        reference_id: str | None = None,
        status: str | None = None,
        insights_status: str | None = None,
    ) -> Response:
        state.stats.operations["outbound_batch_results"] += 1
        batch = get_batch(batch_id)
        state.outreach.advance(batch)
        if reference_id is not None and not batch.has_duplicates:
            one = batch.index.get(reference_id)
            rows = [one] if one is not None else []
        else:
            rows = [r for r in batch.requests if not r.removed]
            if reference_id is not None:
                rows = [r for r in rows if r.reference_id == reference_id]
        if status is not None:
            rows = [r for r in rows if r.request_status == status.upper()]
        if insights_status is not None:
            wanted = insights_status.upper()
            rows = [r for r in rows if (r.insights_status or "") == wanted]
        return _json([r.to_api() for r in rows])

    @operation("POST", "/{batch_id}/requests", "Create Outbound Communication Request")
    async def outbound_batch_add(batch_id: str, body: CommunicationRequest) -> Response:
        stats = state.stats
        stats.operations["outbound_batch_add"] += 1
        batch = live_batch(batch_id)
        ref = body.reference_id
        stats.request_received(batch_id, ref)
        if ref in batch.index:
            raise HTTPException(409, f"reference_id '{ref}' already exists in batch '{batch_id}'")
        req = Request(
            pos=len(batch.requests),
            reference_id=ref,
            target=body.target,
            request_variables=body.request_variables,
            created_at=iso(utcnow()) or "",
            request_status="PENDING" if is_valid_target(body.target) else "INVALID",
        )
        batch.add_request(req)
        stats.request_applied(batch_id, ref)
        await store.save_requests_grouped(batch, [req])
        return _json(req.to_api())

    @operation("POST", "/{batch_id}/remove-requests", "Delete Requests By List Of Reference Ids")
    async def outbound_batch_remove(
        batch_id: str, reference_ids: Annotated[list[str], Body()]
    ) -> Response:
        state.stats.operations["outbound_batch_remove"] += 1
        batch = get_batch(batch_id)
        removed: list[Request] = []
        not_found: list[str] = []
        for ref in reference_ids:
            rows = batch.remove(ref)
            if rows:
                removed.extend(rows)
            else:
                not_found.append(ref)
        store.save_requests(batch, removed)
        return _json({"batch_id": batch_id, "removed_count": len(removed), "not_found": not_found})

    # Routes are tried in order: the hot ones first (matching cost a quarter of an add).
    hot = [r for r in router.routes if getattr(r, "operation_id", None) in _HOT_OPERATIONS]
    router.routes[:] = hot + [r for r in router.routes if r not in hot]
    app.include_router(router)

    # -- admin API (not Syllable's; never faulted, no key) -------------------------------------
    admin = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)

    @admin.get("/health")
    async def health() -> Response:
        return _json({"ok": True, "durable": store.durable, "batches": len(store.batches)})

    @admin.get("/faults")
    async def get_faults() -> Response:
        return _json(state.faults.to_dict())

    @admin.post("/faults")
    async def post_faults(changes: Annotated[dict[str, Any], Body()]) -> Response:
        try:
            state.set_faults(state.faults.updated(**changes))
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return _json(state.faults.to_dict())

    @admin.delete("/faults")
    async def clear_faults() -> Response:
        state.set_faults(FaultSettings())
        return _json(state.faults.to_dict())

    @admin.get("/config")
    async def get_config() -> Response:
        names = [f.name for f in fields(EmulatorSettings) if f.name not in ("faults", "db_path")]
        data = {n: getattr(state.settings, n) for n in names if n != "api_keys"}
        data["api_keys"] = len(state.keys)
        return _json(data)

    @admin.post("/config")
    async def post_config(changes: Annotated[dict[str, Any], Body()]) -> Response:
        try:
            state.configure(**changes)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return await get_config()

    @admin.get("/stats")
    async def get_stats(batch_id: str | None = None, requests: bool = True) -> Response:
        return _json(state.stats.to_dict(batch_id, with_requests=requests))

    @admin.post("/reset")
    async def post_reset() -> Response:
        state.reset()
        return _json({"ok": True})

    app.include_router(admin)
    return app


_HOT_OPERATIONS = frozenset({"outbound_batch_add", "outbound_batch_get_by_id"})


def _aware(value: datetime | None) -> datetime | None:
    return parse_datetime(iso(value)) if value is not None else None


def _matches(batch: Batch, field_name: BatchProperties, value: str, now: datetime) -> bool:
    if field_name == BatchProperties.batch_id:
        return value.lower() in batch.batch_id.lower()
    if field_name == BatchProperties.campaign_id:
        return str(batch.campaign_id) == value.strip()
    if field_name == BatchProperties.status:
        return batch.status(now) == value.strip().upper()
    if field_name == BatchProperties.expires_on:
        return (iso(batch.expires_on) or "").startswith(value.strip())
    return (batch.last_updated_at or "").startswith(value.strip())


def _sort_key(batch: Batch, field_name: BatchProperties, now: datetime) -> Any:
    if field_name == BatchProperties.campaign_id:
        return (batch.campaign_id, batch.seq)
    if field_name == BatchProperties.status:
        return (batch.status(now), batch.seq)
    if field_name == BatchProperties.expires_on:
        return (iso(batch.expires_on) or "", batch.seq)
    if field_name == BatchProperties.last_updated_at:
        return (batch.last_updated_at or "", batch.seq)
    return (batch.batch_id, batch.seq)
