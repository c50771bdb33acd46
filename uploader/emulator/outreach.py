"""Simulated outreach: requests go PENDING -> INITIATED -> CONNECTED -> COMPLETED (or FAILED).

Calls start at the batch's pace (``call_rate`` per hour, the campaign default, or paced to
``expires_on``), ring for a while (channel_manager_status RINGING), then either connect
(CONNECTED, IN-PROGRESS) and end COMPLETED with insights following, or end FAILED with NO-ANSWER,
BUSY or FAILED. The simulation is lazy: a batch's clock is advanced only when someone looks at it
(get, results, list), by the real time elapsed times ``time_scale``. Each call's timings and
outcome come from a hash of (seed, batch_id, row position), so the same rows get the same fates
whenever they are looked at, and after a restart.
"""

from __future__ import annotations

import hashlib
import struct
import time
from datetime import datetime

from uploader.emulator.settings import EmulatorSettings
from uploader.emulator.store import Batch, Request, Store, iso, utcnow

__all__ = ["Outreach"]

_FAILURES = ("NO-ANSWER", "BUSY", "FAILED")
#: Simulated seconds a phone rings before it is answered (or given up on).
_RING_SECONDS = (5.0, 30.0)


def _is_live(req: Request) -> bool:
    """Whether the simulation still has something to do with this request."""
    return req.request_status in ("INITIATED", "CONNECTED") or req.insights_status == "PENDING"


class Outreach:
    """Advances batches' simulated clocks; one instance per emulator."""

    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self.store = store
        self.settings = settings

    def reset(self, settings: EmulatorSettings) -> None:
        self.settings = settings

    def _draws(self, batch: Batch, req: Request) -> tuple[float, float, float, float]:
        """Four uniform draws for one call, fixed by (seed, batch_id, row position).

        Hash-based rather than one sequential generator, so a call's fate does not depend on
        when the batch was looked at, on other rows being removed, or on a restart.
        """
        digest = hashlib.blake2b(
            f"{self.settings.seed}:{batch.batch_id}:{req.pos}".encode(), digest_size=16
        ).digest()
        a, b, c, d = struct.unpack("<4I", digest)
        return a / 2**32, b / 2**32, c / 2**32, d / 2**32

    def rate_per_hour(self, batch: Batch, now: datetime) -> float:
        if batch.auto_call_rate and batch.expires_on is not None:
            pending = batch.counts.get(("PENDING", None), 0)
            hours = max((batch.expires_on - now).total_seconds() / 3600.0, 1e-6)
            rate = max(pending, 1) / hours
            batch.auto_call_rate_baseline = round(rate, 3)
            return rate
        if batch.call_rate is not None:
            return float(batch.call_rate)
        return float(self.settings.default_call_rate)

    def advance(self, batch: Batch, now: datetime | None = None) -> None:
        """Bring ``batch`` up to date with the clock and persist what changed."""
        real = time.monotonic()
        last = batch.last_advance
        batch.last_advance = real
        if last is None or batch.upload_state == "queued":
            return
        now = now or utcnow()
        dt_sim = (real - last) * self.settings.time_scale
        if dt_sim <= 0:
            return
        changed: list[Request] = []
        batch.sim_now += dt_sim
        sim_now = batch.sim_now
        sent_at = iso(now)
        # calls that have ended, and insights that are ready
        still_live: list[Request] = []
        for req in batch.live:
            if req.removed:
                continue
            if self._step(batch, req, sim_now):
                changed.append(req)
            if _is_live(req):
                still_live.append(req)
        batch.live = still_live
        calling = not (
            batch.deleted or batch.paused or batch.expired(now) or batch.upload_state == "failed"
        )
        if calling:
            rate_s = self.rate_per_hour(batch, now) / 3600.0
            start_sim = sim_now - dt_sim
            carry_before = batch.carry
            batch.carry += dt_sim * rate_s
            budget = int(batch.carry)
            batch.carry -= budget
            reqs = batch.requests
            k = 0
            while k < budget and batch.next_pending < len(reqs):
                req = reqs[batch.next_pending]
                batch.next_pending += 1
                if req.removed or req.request_status != "PENDING":
                    continue
                # the k-th call of this step starts when the pacing reaches it, not at the end
                started = start_sim + (k + 1 - carry_before) / rate_s if rate_s else sim_now
                k += 1
                ring_draw, talk_draw, outcome_draw, kind_draw = self._draws(batch, req)
                started = min(started, sim_now)
                ring = _RING_SECONDS[0] + (_RING_SECONDS[1] - _RING_SECONDS[0]) * ring_draw
                if outcome_draw < self.settings.success_rate:
                    lo, hi = self.settings.call_seconds
                    req.outcome = "COMPLETED"
                    req.connect_at = started + ring
                    req.due = req.connect_at + lo + (hi - lo) * talk_draw
                else:
                    req.outcome = _FAILURES[int(kind_draw * len(_FAILURES)) % len(_FAILURES)]
                    req.connect_at = None
                    req.due = started + ring
                req.attempt_count = 1
                req.sent_at = sent_at
                req.session_id = self.store.next_session
                req.conversation_id = self.store.next_session
                self.store.next_session += 1
                req.channel_manager_sid = f"CA{req.session_id:032x}"
                batch.set_status(req, "INITIATED", "RINGING")
                self._step(batch, req, sim_now)
                changed.append(req)
                if _is_live(req):
                    still_live.append(req)
            if batch.next_pending >= len(reqs):
                batch.carry = 0.0  # nothing left to call: do not bank calls for later
        if changed:
            self.store.save_batch(batch, changed)

    def _step(self, batch: Batch, req: Request, sim_now: float) -> bool:
        """Move one call along as far as ``sim_now`` allows; True when anything changed."""
        changed = False
        if (
            req.request_status == "INITIATED"
            and req.connect_at is not None
            and req.connect_at <= sim_now
        ):
            batch.set_status(req, "CONNECTED", "IN-PROGRESS")
            changed = True
        if (
            req.request_status in ("INITIATED", "CONNECTED")
            and req.due is not None
            and req.due <= sim_now
        ):
            self._finish(batch, req)
            changed = True
        return self._insights(req, sim_now) or changed

    @staticmethod
    def _insights(req: Request, sim_now: float) -> bool:
        """Insights become ready ``insights_seconds`` after a completed call."""
        if (
            req.insights_due is not None
            and req.insights_due <= sim_now
            and req.insights_status == "PENDING"
        ):
            req.insights_status = "COMPLETED"
            req.insights = {"rating": "Good", "summary": "Caller confirmed the appointment."}
            req.insights_due = None
            return True
        return False

    def _finish(self, batch: Batch, req: Request) -> None:
        if req.outcome == "COMPLETED":
            batch.set_status(req, "COMPLETED", "COMPLETED")
            req.insights_status = "PENDING"
            req.insights_due = (req.due or 0.0) + self.settings.insights_seconds
        else:
            batch.set_status(req, "FAILED", req.outcome)
            req.attempt_count = 1 + (req.session_id or 0) % 3
        req.due = None
