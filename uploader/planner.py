"""``plan()``: what an upload would do to the target batches, worked out without changing anything.

The planner reads and validates the file, groups the valid rows into the batches the engine
would use, reads those batches from the server (``get_batch`` + ``results``) and sorts every row::

    new        the batch does not hold this reference_id: it will be sent
    identical  the batch holds it with the same target and variables: skipped
    conflict   the batch holds it with another target or variables (or marked INVALID/DUPLICATE):
               listed with both versions, never sent
    refused    validation said no (the message says why)

A plan is written as JSON with a *fingerprint of the server state* it saw (each batch's existence,
campaign and requests' reference_id/target/variables; call progress is left out, so calls moving
on do not make a plan stale). ``upload(..., UploadOptions(plan_file=...))`` applies exactly that
plan: it refuses with :class:`~uploader.errors.PlanError` when the file, the settings or the
server state differ from what the plan saw, sends only the ``new`` rows into the plan's batch ids,
records ``identical`` rows as accepted and ``conflict`` rows as rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path
from typing import Any

from uploader.chunker import PlannedBatch, input_digest, safe_stem
from uploader.client import (
    SyllableClient,
    batch_request_count,
    check_usable_batch,
    requests_match,
)
from uploader.config import ClientConfig, ReadOptions, UploadOptions
from uploader.errors import ConfigError, InputError, NotFoundError, PlanError
from uploader.models import ProgressCallback, Record, RowStatus, ValidationResult

__all__ = [
    "PLAN_VERSION",
    "Plan",
    "PlanBatch",
    "PlanRow",
    "PresetPlan",
    "check_plan",
    "plan",
    "read_plan",
    "server_state",
    "write_plan",
]

log = logging.getLogger("uploader")

PLAN_VERSION = 1
#: Settings that decide which rows go where; a plan applies only under the same values.
PLAN_SETTINGS = (
    "server_url",
    "read",
    "campaign_id",
    "mode",
    "batch_size",
    "batch_id",
    "batch_id_template",
    "sample",
)
_REJECTED = {"INVALID", "DUPLICATE"}


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One spreadsheet row's fate under the plan."""

    row_number: int
    action: str  # "new", "identical", "conflict", "refused"
    reference_id: str = ""
    target: str = ""
    batch_id: str = ""
    message: str = ""
    server_target: str = ""
    server_variables: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PlanBatch:
    """One target batch as the server showed it, and what the plan does to it."""

    batch_id: str
    exists: bool
    held: int = 0  # requests the batch holds now
    campaign_id: int | None = None
    new: int = 0
    identical: int = 0
    conflict: int = 0


@dataclass(slots=True)
class Plan:
    """The reviewed plan: written by ``plan``, applied by ``upload --plan-file``."""

    file: str
    file_hash: str
    settings: dict[str, Any]
    batches: list[PlanBatch]
    rows: list[PlanRow]
    server_fingerprint: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    blank: int = 0
    version: int = PLAN_VERSION

    @property
    def plan_id(self) -> str:
        """Short identity of this plan (file, settings, server state, every row's action)."""
        rows = [[r.row_number, r.action, r.reference_id, r.batch_id] for r in self.rows]
        blob = json.dumps(
            [self.file_hash, self.settings, self.server_fingerprint, rows], default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        out = {"new": 0, "identical": 0, "conflict": 0, "refused": 0}
        for row in self.rows:
            out[row.action] = out.get(row.action, 0) + 1
        out["blank"] = self.blank
        return out

    def rows_by(self, action: str) -> list[PlanRow]:
        return [r for r in self.rows if r.action == action]

    def summary(self) -> dict[str, Any]:
        """The ``--json`` body: counts, batches and the rows that need a look (full values)."""
        return {
            "file": self.file,
            "plan_id": self.plan_id,
            "created_at": self.created_at,
            "counts": self.counts(),
            "batches": [asdict(b) for b in self.batches],
            "conflicts": [asdict(r) for r in self.rows_by("conflict")],
            "refused": [
                {"row_number": r.row_number, "message": r.message} for r in self.rows_by("refused")
            ],
            "server_fingerprint": self.server_fingerprint,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan_id"] = self.plan_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            file=str(data["file"]),
            file_hash=str(data["file_hash"]),
            settings=dict(data["settings"]),
            batches=[PlanBatch(**b) for b in data["batches"]],
            rows=[PlanRow(**r) for r in data["rows"]],
            server_fingerprint=str(data["server_fingerprint"]),
            created_at=str(data.get("created_at", "")),
            blank=int(data.get("blank", 0)),
            version=int(data.get("version", PLAN_VERSION)),
        )


@dataclass(frozen=True, slots=True)
class PresetPlan:
    """What the engine takes from a checked plan: the batches and each row's fixed verdict."""

    plan_id: str
    batches: list[PlannedBatch]
    #: row number -> ("accepted" | "rejected", message) for rows that are not sent
    verdicts: dict[int, tuple[str, str]]


# --------------------------------------------------------------------------- server state


def _jsonable(value: Any) -> Any:
    """A value as it reads back from JSON (tuples become lists), for comparing settings."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _norm(variables: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (variables or {}).items() if v not in (None, "")}


def server_state(
    client: SyllableClient, batch_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any] | None], dict[str, list[dict[str, Any]]], str]:
    """Each batch's details (None when absent), its results, and the state's fingerprint."""
    details: dict[str, dict[str, Any] | None] = {}
    results: dict[str, list[dict[str, Any]]] = {}
    canon: list[Any] = []
    for batch_id in dict.fromkeys(batch_ids):
        try:
            found: dict[str, Any] | None = client.get_batch(batch_id)
        except NotFoundError:
            found = None
        details[batch_id] = found
        items = client.results(batch_id) if found is not None else []
        results[batch_id] = items
        canon.append(
            [
                batch_id,
                found is not None,
                bool(found and found.get("deleted_at")),
                found.get("campaign_id") if found else None,
                sorted(
                    [
                        str(i.get("reference_id", "")),
                        str(i.get("target", "")),
                        sorted(_norm(i.get("request_variables")).items()),
                        str(i.get("request_status") or "") in _REJECTED,
                    ]
                    for i in items
                ),
            ]
        )
    blob = json.dumps(canon, sort_keys=True, default=str)
    return details, results, hashlib.sha256(blob.encode()).hexdigest()


def _read_server(
    client: SyllableClient | None, client_config: ClientConfig, batch_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any] | None], dict[str, list[dict[str, Any]]], str]:
    """:func:`server_state` through ``client``, or through a client opened (and closed) here."""
    if client is not None:
        return server_state(client, batch_ids)
    with SyllableClient(client_config) as api:
        return server_state(api, batch_ids)


# --------------------------------------------------------------------------- planning


def _classify(
    record: Record, items: Sequence[Mapping[str, Any]]
) -> tuple[str, str, str, dict[str, str] | None]:
    """(action, message, server target, server variables) of one valid record."""
    if not items:
        return "new", "", "", None
    for item in items:
        if str(item.get("request_status") or "") not in _REJECTED and requests_match(
            item, record.request
        ):
            return "identical", "", "", None
    item = items[0]
    server_target = str(item.get("target", ""))
    server_vars = _norm(item.get("request_variables"))
    status = str(item.get("request_status") or "")
    if status in _REJECTED:
        message = f"the batch already holds this reference_id marked {status}"
    else:
        what = []
        if server_target != record.request.target:
            what.append("target")
        if server_vars != _norm(record.request.request_variables):
            what.append("variables")
        message = f"the batch already holds this reference_id with a different {' and '.join(what)}"
    return "conflict", message, server_target, server_vars


def plan(
    path: Path | str,
    read_options: ReadOptions | None = None,
    upload_options: UploadOptions | None = None,
    client_config: ClientConfig | None = None,
    *,
    client: SyllableClient | None = None,
    validation: ValidationResult | None = None,
    today: Date | None = None,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Work out what ``upload`` would do with ``path`` now; reads the server, changes nothing."""
    from uploader.runplan import assign_batches, fingerprint_settings

    path = Path(path)
    read_options = read_options or ReadOptions()
    options = upload_options or UploadOptions()
    client_config = client_config or ClientConfig()
    if options.campaign_id is None and not options.batch_id:
        raise ConfigError("plan needs --batch-id or --campaign-id (which batches to compare)")
    digest = input_digest(path)
    if validation is None:
        from uploader.validation import validate

        validation = validate(path, read_options, progress=progress)
    batches = assign_batches(
        validation.records, options, path=path, digest=digest, today=today or Date.today()
    )
    details, results, fingerprint = _read_server(
        client, client_config, [b.batch_id for b in batches]
    )
    by_ref: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for batch_id, items in results.items():
        index = by_ref.setdefault(batch_id, {})
        for item in items:
            index.setdefault(str(item.get("reference_id", "")), []).append(item)
    for batch_id, found in details.items():
        if found is not None:
            check_usable_batch(batch_id, found, options.campaign_id)

    rows: list[PlanRow] = []
    tallies: dict[str, dict[str, int]] = {b.batch_id: {} for b in batches}
    issues = validation.issues_by_row()
    placed = {rec.row_number: (b.batch_id, rec) for b in batches for rec in b.records}
    blank = 0
    for i, number in enumerate(validation.table.row_numbers):
        number = int(number)
        status = str(validation.statuses[i])
        if status == RowStatus.BLANK:
            blank += 1
            continue
        ref = str(validation.reference_ids[i]) if validation.reference_ids else ""
        target = str(validation.targets_e164[i]) if validation.targets_e164 else ""
        if status == RowStatus.REFUSED:
            message = "; ".join(issue.message for issue in issues.get(number, []))
            rows.append(PlanRow(number, "refused", ref, target, "", message))
            continue
        if number not in placed:  # outside a --sample trial: not part of this plan
            continue
        batch_id, record = placed[number]
        items = by_ref.get(batch_id, {}).get(record.request.reference_id, [])
        action, message, server_target, server_vars = _classify(record, items)
        rows.append(
            PlanRow(
                number,
                action,
                record.request.reference_id,
                record.request.target,
                batch_id,
                message,
                server_target,
                server_vars,
            )
        )
        tally = tallies[batch_id]
        tally[action] = tally.get(action, 0) + 1

    plan_batches: list[PlanBatch] = []
    for b in batches:
        found = details.get(b.batch_id)
        held = batch_request_count(found)
        held = max(held, len(results.get(b.batch_id, [])))
        tally = tallies[b.batch_id]
        plan_batches.append(
            PlanBatch(
                batch_id=b.batch_id,
                exists=found is not None,
                held=held,
                campaign_id=int(found["campaign_id"]) if found else options.campaign_id,
                new=tally.get("new", 0),
                identical=tally.get("identical", 0),
                conflict=tally.get("conflict", 0),
            )
        )
        if options.mode == "upload" and found is not None and held and tally.get("new"):
            raise ConfigError(
                f"batch {b.batch_id} already holds {held:,} request(s) and a batch takes one "
                f"file; adding {tally['new']:,} new row(s) to it needs --mode add"
            )
    settings = fingerprint_settings(read_options, options, client_config)
    result = Plan(
        file=str(path),
        file_hash=digest,
        settings={k: _jsonable(settings.get(k)) for k in PLAN_SETTINGS},
        batches=plan_batches,
        rows=rows,
        server_fingerprint=fingerprint,
        blank=blank,
    )
    log.info(
        "plan %s: %s",
        result.plan_id,
        ", ".join(f"{k} {v}" for k, v in result.counts().items()),
    )
    return result


# --------------------------------------------------------------------------- plan files


def write_plan(plan_: Plan, out: Path | str) -> Path:
    """Write the plan as JSON (full values: it is the reviewed record of what will be sent)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(
            json.dumps(plan_.to_dict(), indent=1, ensure_ascii=False, default=str),
            encoding="utf-8",
        )
        tmp.replace(out)
    except OSError as exc:
        raise InputError(f"cannot write the plan: {exc.strerror or exc}", path=str(out)) from exc
    return out


def read_plan(path: Path | str) -> Plan:
    """Load a plan file; a damaged or foreign file is a :class:`PlanError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"plan file {path} cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise PlanError(f"plan file {path} is not a plan (invalid JSON: {exc})") from exc
    try:
        loaded = Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"plan file {path} is not a plan written by `plan` ({exc})") from exc
    if loaded.version != PLAN_VERSION:
        raise PlanError(f"plan file {path} has version {loaded.version}; make a new plan")
    if data.get("plan_id") and data["plan_id"] != loaded.plan_id:
        raise PlanError(f"plan file {path} was edited after it was made; make a new plan")
    return loaded


def check_plan(
    plan_: Plan,
    *,
    path: Path,
    digest: str,
    settings: Mapping[str, Any],
    validation: ValidationResult,
    client: SyllableClient | None,
    client_config: ClientConfig,
) -> PresetPlan:
    """The plan's batches and verdicts, if the file, settings and server still match it.

    Raises :class:`PlanError` naming what changed; nothing is sent before this passes.
    """
    if digest != plan_.file_hash:
        raise PlanError(
            f"{path} changed since the plan was made (it was planned as {plan_.file}); "
            "make a new plan"
        )
    differ = [
        k for k in PLAN_SETTINGS if _jsonable(settings.get(k)) != _jsonable(plan_.settings.get(k))
    ]
    if differ:
        raise PlanError(
            "the settings differ from the plan's (" + ", ".join(differ) + "); use the same "
            "options as `plan` did, or make a new plan"
        )
    batch_ids = [b.batch_id for b in plan_.batches]
    _, _, fingerprint = _read_server(client, client_config, batch_ids)
    if fingerprint != plan_.server_fingerprint:
        raise PlanError(
            f"the server state of batch(es) {', '.join(batch_ids)} changed since the plan was "
            f"made ({plan_.created_at}); nothing was sent. Make a new plan and review it"
        )
    records = {rec.row_number: rec for rec in validation.records}
    grouped: dict[str, list[Record]] = {b: [] for b in batch_ids}
    verdicts: dict[int, tuple[str, str]] = {}
    for row in plan_.rows:
        if row.action == "refused":
            continue
        record = records.get(row.row_number)
        if record is None or record.request.reference_id != row.reference_id:
            raise PlanError(f"row {row.row_number} no longer matches the plan; make a new plan")
        grouped[row.batch_id].append(record)
        if row.action == "identical":
            verdicts[row.row_number] = ("accepted", "")
        elif row.action == "conflict":
            verdicts[row.row_number] = ("rejected", f"conflict (plan): {row.message}")
    batches = [
        PlannedBatch(seq=n, batch_id=b, records=grouped[b])
        for n, b in enumerate(batch_ids, start=1)
    ]
    log.info("plan %s matches the server; applying it", plan_.plan_id)
    return PresetPlan(plan_id=plan_.plan_id, batches=batches, verdicts=verdicts)


def default_plan_path(path: Path) -> Path:
    """Where ``plan`` writes when no ``--out`` is given: beside the input."""
    return Path(path).with_name(f"{safe_stem(path)}.plan.json")
