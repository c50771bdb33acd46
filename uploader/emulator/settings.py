"""Knobs of the emulator: what it accepts, how fast its simulated world runs, how it misbehaves.

Everything is explicit and seeded so a failing test can be replayed: the same ``seed`` and the same
sequence of requests give the same faults and the same simulated call outcomes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["DEMO_API_KEY", "EmulatorSettings", "FaultSettings"]

#: The key the emulator accepts when no ``api_keys`` are given. Not a secret: it only opens the
#: local emulator, and the README and the demo command print it on purpose.
DEMO_API_KEY = "demo-key-not-secret"


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Seeded misbehaviour, applied to the nine Syllable operations (never to ``/_emulator``).

    Per request, after the rate limit and the latency, one draw decides (in this order of the
    cumulative rates): 429 with ``Retry-After``, a 5xx from ``error_codes``, a dropped connection
    before anything is applied (``drop_rate``), a response that never comes (``hang_rate``: the
    server holds the request ``hang_seconds`` and then drops it, unapplied) and *ambiguous success*
    (``ambiguous_rate``: the change is applied and committed, then the connection is dropped before
    the response is sent). Rates are fractions in [0, 1]; their sum must not exceed 1.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_s: int = 1
    error_rate: float = 0.0
    error_codes: tuple[int, ...] = (500, 502, 503, 504)
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    ambiguous_rate: float = 0.0
    #: Per-key token bucket: requests per second (burst of the same size); 0 = unlimited.
    rate_limit: float = 0.0
    #: Only these HTTP methods get the random faults (latency and the rate limit apply to all).
    #: Empty = every method.
    fault_methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("rate_429", "error_rate", "drop_rate", "hang_rate", "ambiguous_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.total_rate > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {self.total_rate:.3f}, more than 1")
        for name in ("latency_ms", "latency_jitter_ms", "hang_seconds", "rate_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.error_rate and not self.error_codes:
            raise ValueError("error_rate needs at least one status code in error_codes")

    @property
    def total_rate(self) -> float:
        return (
            self.rate_429 + self.error_rate + self.drop_rate + self.hang_rate + self.ambiguous_rate
        )

    @property
    def active(self) -> bool:
        """Whether any fault or latency can happen (the hot path skips everything otherwise)."""
        return bool(self.total_rate or self.latency_ms or self.latency_jitter_ms or self.rate_limit)

    def updated(self, **changes: Any) -> FaultSettings:
        """A copy with ``changes`` applied; unknown names are a clear error, not ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        if "error_codes" in changes:
            changes["error_codes"] = tuple(int(c) for c in changes["error_codes"])
        if "fault_methods" in changes:
            changes["fault_methods"] = tuple(str(m).upper() for m in changes["fault_methods"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["error_codes"] = list(self.error_codes)
        out["fault_methods"] = list(self.fault_methods)
        return out


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """How to run one emulator. ``faults`` may also be given as flat keywords (see ``make``)."""

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: tuple[str, ...] = (DEMO_API_KEY,)
    db_path: Path | None = None
    seed: int = 0
    #: Simulated seconds per real second for outreach (1000: an hour of calling in 3.6 s).
    time_scale: float = 1.0
    #: Calls per hour when a batch sets no ``call_rate`` (the campaign's ``hourly_rate``).
    default_call_rate: int = 3600
    #: Simulated seconds a call lasts, drawn uniformly from this range.
    call_seconds: tuple[float, float] = (20.0, 120.0)
    #: Simulated seconds after a call until its insights are ready.
    insights_seconds: float = 30.0
    #: Fraction of calls that end COMPLETED (the rest FAILED: NO-ANSWER, BUSY, FAILED).
    success_rate: float = 0.8
    #: Real seconds an uploaded file waits before it is processed (the batch shows PENDING).
    upload_delay_s: float = 0.05
    faults: FaultSettings = field(default_factory=FaultSettings)
    #: Identity reported in ``last_updated_by``.
    user_email: str = "emulator@syllable.local"

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("the emulator needs at least one accepted API key")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if not 0.0 <= self.success_rate <= 1.0:
            raise ValueError("success_rate must be between 0 and 1")

    @classmethod
    def make(cls, **kwargs: Any) -> EmulatorSettings:
        """Build settings from flat keywords, routing fault names into ``faults``."""
        fault_names = {f.name for f in fields(FaultSettings)}
        fault_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in fault_names}
        base = kwargs.pop("faults", FaultSettings())
        if "api_keys" in kwargs:
            kwargs["api_keys"] = tuple(kwargs["api_keys"])
        if kwargs.get("db_path") is not None:
            kwargs["db_path"] = Path(kwargs["db_path"])
        return cls(faults=base.updated(**fault_kw), **kwargs)
