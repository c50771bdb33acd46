"""The server's per-request results: fetched, watched until every call has ended, summarised.

``results`` fetches the ``CommunicationRequestResult`` objects of some batches, keyed by
``(batch_id, reference_id)``; ``watch_results`` fetches them again until no request is still
moving (or a timeout); ``results_table`` turns them into a report source when the user's own file
is not at hand; ``report_results`` ties it together for ``syllable-upload results``, writing the
report (:func:`uploader.reporter.write_report`) after every fetch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uploader.errors import NotFoundError
from uploader.models import ColumnMapping, RowOutcome, RowStatus, Table, ValidationResult

if TYPE_CHECKING:
    from uploader.client import SyllableClient
    from uploader.models import ProgressCallback
    from uploader.reporter import ReportSummary

__all__ = [
    "OPEN_REQUEST_STATES",
    "ResultsRun",
    "WatchOutcome",
    "report_results",
    "results",
    "results_table",
    "summarize_results",
    "watch_results",
]

log = logging.getLogger("uploader")

#: Request states that are still moving; ``watch_results`` waits for every request to leave them.
OPEN_REQUEST_STATES = frozenset({"PENDING", "INITIATED", "CONNECTED"})


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def results(
    client: SyllableClient,
    batch_ids: Sequence[str],
    *,
    reference_id: str | None = None,
    status: str | None = None,
    insights_status: str | None = None,
    skip_missing: bool = False,
    progress: ProgressCallback | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every request result of the given batches, keyed by ``(batch_id, reference_id)``.

    The filters are the ``results`` operation's own (``status`` is a request status such as
    ``COMPLETED``); they narrow what the server returns, per batch. ``skip_missing`` passes over
    batches the server does not know (a journal's batch whose creation never landed) instead of
    failing with :class:`~uploader.errors.NotFoundError`.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    unique = list(dict.fromkeys(batch_ids))
    for done, batch_id in enumerate(unique, start=1):
        try:
            items = client.results(
                batch_id, reference_id=reference_id, status=status, insights_status=insights_status
            )
        except NotFoundError:
            if not skip_missing:
                raise
            log.warning("batch %s is not on the server; its rows have no results", batch_id)
            items = []
        for item in items:
            out[(batch_id, str(item.get("reference_id", "")))] = dict(item)
        if progress is not None:
            progress("results", done, len(unique))
    return out


@dataclass(slots=True)
class WatchOutcome:
    """Last results seen by :func:`watch_results`; ``settled`` is False after a timeout."""

    results: dict[tuple[str, str], dict[str, Any]]
    settled: bool
    refreshes: int
    open_requests: int


def _open_count(found: Mapping[tuple[str, str], Mapping[str, Any]]) -> int:
    return sum(
        1 for r in found.values() if str(r.get("request_status", "")).upper() in OPEN_REQUEST_STATES
    )


def watch_results(
    client: SyllableClient,
    batch_ids: Sequence[str],
    timeout: float,
    interval: float = 30.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_refresh: Callable[[dict[tuple[str, str], dict[str, Any]]], None] | None = None,
    **filters: Any,
) -> WatchOutcome:
    """Fetch results until no request is PENDING/INITIATED/CONNECTED, or ``timeout`` seconds.

    ``on_refresh`` is called with every fetch (the CLI rewrites the report there), so a cron job
    that is killed still leaves the latest picture behind.
    """
    deadline = clock() + timeout
    refreshes = 0
    while True:
        found = results(client, batch_ids, **filters)
        refreshes += 1
        if on_refresh is not None:
            on_refresh(found)
        still_open = _open_count(found)
        log.info("results: %d requests, %d still open", len(found), still_open)
        if still_open == 0:
            return WatchOutcome(found, True, refreshes, 0)
        remaining = deadline - clock()
        if remaining <= 0:
            return WatchOutcome(found, False, refreshes, still_open)
        sleep(min(interval, remaining))


def results_table(
    found: Mapping[tuple[str, str], Mapping[str, Any]], *, path: Path | None = None
) -> tuple[ValidationResult, dict[int, RowOutcome]]:
    """A report source made of the server's own view, for ``results`` without ``--source``.

    Columns: ``reference_id``, ``target`` and every request variable seen, in first-seen order;
    one row per request, each with an ``accepted`` outcome naming its batch.
    """
    variables: dict[str, None] = {}
    for result in found.values():
        for key in result.get("request_variables") or {}:
            variables.setdefault(str(key), None)
    headers = ["reference_id", "target", *variables]
    columns: list[list[str]] = [[] for _ in headers]
    outcomes: dict[int, RowOutcome] = {}
    for row_number, ((batch_id, reference_id), result) in enumerate(found.items(), start=2):
        target = _text(result.get("target"))
        columns[0].append(reference_id)
        columns[1].append(target)
        request_variables = result.get("request_variables") or {}
        for j, key in enumerate(variables, start=2):
            columns[j].append(_text(request_variables.get(key)))
        outcomes[row_number] = RowOutcome(
            row_number=row_number,
            status=RowStatus.ACCEPTED,
            reference_id=reference_id,
            batch_id=batch_id,
            target_e164=target,
        )
    n = len(outcomes)
    table = Table(
        path=path or Path("results"),
        format="csv",
        sheet=None,
        headers=headers,
        columns=list(columns),
        row_numbers=list(range(2, n + 2)),
    )
    validation = ValidationResult(
        table=table,
        mapping=ColumnMapping(
            reference_id="reference_id", target="target", variables=tuple(variables)
        ),
        records=[],
        issues=[],
        statuses=[RowStatus.VALID.value] * n,
        targets_e164=list(columns[1]),
        reference_ids=list(columns[0]),
    )
    return validation, outcomes


def summarize_results(
    found: Mapping[tuple[str, str], Mapping[str, Any]], top: int = 5
) -> dict[str, Any]:
    """Counts per request status, per batch (and per status within it), and the commonest
    channel-manager outcomes of failed calls: the run summary when no report is written."""
    by_status: Counter[str] = Counter()
    by_batch: dict[str, Counter[str]] = {}
    failures: Counter[str] = Counter()
    for (batch_id, _ref), result in found.items():
        state = _text(result.get("request_status")) or "UNKNOWN"
        by_status[state] += 1
        by_batch.setdefault(batch_id, Counter())[state] += 1
        if state in {"FAILED", "INVALID", "DUPLICATE", "CANCELED", "UNSUBSCRIBED"}:
            detail = _text(result.get("channel_manager_status"))
            failures[f"{state}: {detail}" if detail else state] += 1
    return {
        "requests": len(found),
        "by_request_status": dict(by_status.most_common()),
        "by_batch": {b: dict(c.most_common()) for b, c in sorted(by_batch.items())},
        "top_errors": [{"error": e, "rows": n} for e, n in failures.most_common(top)],
        "open_requests": _open_count(found),
    }


@dataclass(slots=True)
class ResultsRun:
    """What ``syllable-upload results`` did: results fetched, watch verdict, report written."""

    batch_ids: list[str]
    results: dict[tuple[str, str], dict[str, Any]]
    summary: dict[str, Any]
    report: ReportSummary | None = None
    watched: bool = False
    settled: bool = True
    refreshes: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_ids": list(self.batch_ids),
            **self.summary,
            "watched": self.watched,
            "settled": self.settled,
            "refreshes": self.refreshes,
            "report": self.report.to_dict() if self.report is not None else None,
        }

    def render(self) -> str:
        """Terminal text: the report summary when there is one, else the request counts."""
        from uploader.reporter import render_summary  # the report's own layout

        lines = []
        if self.report is not None:
            lines.append(render_summary(self.report))
        else:
            lines.append(f"{self.summary['requests']} requests in {len(self.batch_ids)} batches")
            for state, n in self.summary["by_request_status"].items():
                lines.append(f"  {state:<14} {n:>8}")
            for error in self.summary["top_errors"]:
                lines.append(f"  {error['rows']:>6} x {error['error']}")
        if self.watched and not self.settled:
            lines.append(
                f"still open after the watch timeout: {self.summary['open_requests']} requests"
            )
        return "\n".join(lines)


def report_results(
    client: SyllableClient,
    batch_ids: Sequence[str],
    *,
    out: Path | None = None,
    validation: ValidationResult | None = None,
    outcomes: Mapping[int, RowOutcome] | None = None,
    watch_timeout: float | None = None,
    interval: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    settings: Mapping[str, Any] | None = None,
    format: str | None = None,
    progress: ProgressCallback | None = None,
    **filters: Any,
) -> ResultsRun:
    """Fetch the batches' results (watching until settled if ``watch_timeout`` is given) and,
    with ``out``, write the report after every fetch.

    With ``validation`` (the re-validated source file) results are laid beside the original
    rows, matched by row outcome or by reference id; without it, the report lists the
    server's own requests (reference id, target, variables).
    """
    from uploader.reporter import write_report  # imports this module: only on first call

    report: list[ReportSummary] = []

    def write(found: dict[tuple[str, str], dict[str, Any]]) -> None:
        if out is None:
            return
        if validation is not None:
            source, row_outcomes = validation, outcomes
        else:
            source, row_outcomes = results_table(found)
        report[:] = [
            write_report(
                out,
                source,
                row_outcomes,
                found,
                settings=settings,
                format=format,
                progress=progress,
            )
        ]

    if watch_timeout is None:
        found = results(client, batch_ids, progress=progress, **filters)
        write(found)
        written = report[0] if report else None
        return ResultsRun(list(batch_ids), found, summarize_results(found), written)
    watched = watch_results(
        client,
        batch_ids,
        watch_timeout,
        interval,
        sleep=sleep,
        clock=clock,
        on_refresh=write,
        **filters,
    )
    return ResultsRun(
        list(batch_ids),
        watched.results,
        summarize_results(watched.results),
        report[0] if report else None,
        watched=True,
        settled=watched.settled,
        refreshes=watched.refreshes,
    )
