"""Simulated outreach: requests move PENDING -> INITIATED -> COMPLETED/FAILED at the batch's pace.

The simulation is lazy: a batch's clock is advanced only when someone looks at it (get, results,
list), by the real time elapsed times ``time_scale``. Every call's duration and outcome is drawn,
in file order, from a random source seeded by (seed, batch_id), so the same batch gets the same
outcomes for the same rows no matter when it is looked at.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from uploader.emulator.settings import EmulatorSettings
from uploader.emulator.store import Batch, Request, Store, iso, utcnow

__all__ = ["Outreach"]

_FAILURES = ("NO-ANSWER", "BUSY", "FAILED")


class Outreach:
    """Advances batches' simulated clocks; one instance per emulator."""

    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self.store = store
        self.settings = settings
        self._rngs: dict[str, random.Random] = {}

    def reset(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._rngs.clear()

    def _rng(self, batch: Batch) -> random.Random:
        rng = self._rngs.get(batch.batch_id)
        if rng is None:
            # advance past the draws already made (a restarted emulator continues the sequence)
            rng = random.Random(f"{self.settings.seed}:{batch.batch_id}")
            for _ in range(batch.next_pending):
                rng.random()
                rng.random()
                rng.random()
            self._rngs[batch.batch_id] = rng
        return rng

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
            if req.due is not None and req.due <= sim_now and req.request_status == "INITIATED":
                self._finish(batch, req)
                self._insights(req, sim_now)
                changed.append(req)
            elif self._insights(req, sim_now):
                changed.append(req)
            if req.request_status == "INITIATED" or req.insights_status == "PENDING":
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
            rng = self._rng(batch)
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
                duration_draw, outcome_draw, kind_draw = rng.random(), rng.random(), rng.random()
                lo, hi = self.settings.call_seconds
                req.due = min(started, sim_now) + lo + (hi - lo) * duration_draw
                if outcome_draw < self.settings.success_rate:
                    req.outcome = "COMPLETED"
                else:
                    req.outcome = _FAILURES[int(kind_draw * len(_FAILURES)) % len(_FAILURES)]
                req.attempt_count = 1
                req.sent_at = sent_at
                req.session_id = self.store.next_session
                req.conversation_id = self.store.next_session
                self.store.next_session += 1
                req.channel_manager_sid = f"CA{req.session_id:032x}"
                batch.set_status(req, "INITIATED", "IN-PROGRESS")
                if req.due <= sim_now:
                    self._finish(batch, req)
                    self._insights(req, sim_now)
                changed.append(req)
                if req.request_status == "INITIATED" or req.insights_status == "PENDING":
                    still_live.append(req)
            if batch.next_pending >= len(reqs):
                batch.carry = 0.0  # nothing left to call: do not bank calls for later
        if changed:
            self.store.save_batch(batch, changed)

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
