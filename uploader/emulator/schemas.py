"""Wire shapes of the outbound-batches API, as pydantic models.

Request bodies are validated with them (so bad bodies get FastAPI's 422 ``HTTPValidationError``).
Response models only document the emulator's OpenAPI: handlers serialise by hand, so the hot
paths skip response validation, and the SDK conformance test pins the real shapes.
Fields are the union of the reference spec and the newest ``syllable-sdk`` models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BatchDetails",
    "BatchProperties",
    "BatchStatus",
    "CommunicationBatch",
    "CommunicationBatchInput",
    "CommunicationBatchUpdate",
    "CommunicationRequest",
    "CommunicationRequestResult",
    "ListResponseCommunicationBatch",
    "OrderByDirection",
    "RequestStatus",
    "RequestStatusBreakdown",
]


class BatchProperties(StrEnum):
    batch_id = "batch_id"
    campaign_id = "campaign_id"
    status = "status"
    expires_on = "expires_on"
    last_updated_at = "last_updated_at"


class OrderByDirection(StrEnum):
    asc = "asc"
    desc = "desc"


class BatchStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    DUPLICATE = "DUPLICATE"
    INITIATED = "INITIATED"
    CONNECTED = "CONNECTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    INVALID = "INVALID"
    UNSUBSCRIBED = "UNSUBSCRIBED"


# -- request bodies ------------------------------------------------------------------------------
class CommunicationBatchInput(BaseModel):
    batch_id: str = Field(min_length=1, description="Unique ID for conversation batch")
    campaign_id: int = Field(description="Unique ID for campaign")
    expires_on: datetime | None = Field(None, description="Timestamp of batch expiration")
    paused: bool | None = Field(None, description="Whether the batch is on HOLD")
    call_rate: int | None = Field(None, ge=0, description="Target outreach attempts per hour")
    auto_call_rate: bool = Field(False, description="Pace automatically to finish by expires_on")


class CommunicationBatchUpdate(BaseModel):
    paused: bool | None = None
    expires_on: datetime | None = None
    call_rate: int | None = Field(None, ge=0)
    auto_call_rate: bool | None = None


class CommunicationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference_id: str = Field(min_length=1, description="ID for target outreach")
    target: str = Field(min_length=1, description="Target phone number")
    request_variables: dict[str, str] = Field(description="Variables for request")


# -- responses (documentation only) --------------------------------------------------------------
class CommunicationBatch(BaseModel):
    batch_id: str
    campaign_id: int
    expires_on: datetime | None = None
    paused: bool | None = None
    call_rate: int | None = None
    auto_call_rate: bool = False
    auto_call_rate_baseline: float | None = None
    status: BatchStatus = BatchStatus.PENDING
    upload_filename: str | None = None
    dispatch_id: str | None = None
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_reason: str | None = None
    last_updated_at: datetime | None = None
    last_updated_by: str
    error_message: str | None = None


class RequestStatusBreakdown(BaseModel):
    total_count: int
    counts: dict[str, int] | None = None


class BatchDetails(CommunicationBatch):
    status_counts: dict[str, int] | None = None
    detailed_status_counts: dict[str, RequestStatusBreakdown] | None = None


class ListResponseCommunicationBatch(BaseModel):
    model_config = ConfigDict(title="ListResponse[CommunicationBatch]")

    items: list[CommunicationBatch]
    page: int
    page_size: int
    total_pages: int | None = None
    total_count: int | None = None


class CommunicationRequestResult(BaseModel):
    reference_id: str
    target: str
    request_variables: dict[str, str]
    channel_manager_sid: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    attempt_count: int = 0
    session_id: int | None = None
    conversation_id: int | None = None
    request_status: RequestStatus = RequestStatus.PENDING
    channel_manager_status: str | None = None
    insights_status: str | None = None
    insights: dict[str, str | int | float] | None = None
