"""Group valid records into batches, name the batches, and render a batch as an upload CSV.

Batch ids are derived once, when a run is planned, from a template (default: file stem, date,
a short content hash and the batch number) and then stored in the journal; a resumed run reuses
the stored ids, so a rerun on another day still lands in the same batches.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

from uploader.errors import ConfigError, InputError
from uploader.models import Record

__all__ = [
    "DEFAULT_TEMPLATE",
    "PlannedBatch",
    "batch_ids",
    "content_hash",
    "input_digest",
    "plan_batches",
    "safe_stem",
    "upload_csv",
    "variable_names",
]

DEFAULT_TEMPLATE = "{stem}-{date}-{hash}-{n:03d}"
_TEMPLATE_FIELDS = {"stem", "date", "hash", "n", "campaign"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One batch to create: its 1-based number, id and the records that go into it."""

    seq: int
    batch_id: str
    records: Sequence[Record]


def input_digest(path: Path) -> str:
    """:func:`content_hash` of the input file, or an :class:`InputError` naming it."""
    try:
        return content_hash(path)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc


def content_hash(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes (hex): the identity of "the same file" across reruns."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def safe_stem(path: Path | str) -> str:
    """The file stem reduced to characters that are safe in a batch id."""
    stem = _UNSAFE.sub("-", Path(path).stem).strip("-.") or "batch"
    return stem[:40]


def _check_template(template: str) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        raise ConfigError(f"batch id template {template!r} is malformed: {exc}") from exc
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise ConfigError(
            f"batch id template {template!r} uses unknown field(s) {sorted(unknown)}; "
            f"known: {sorted(_TEMPLATE_FIELDS)}"
        )


def batch_ids(
    template: str,
    count: int,
    *,
    stem: str,
    digest: str,
    day: Date,
    campaign: int | None = None,
) -> list[str]:
    """``count`` distinct batch ids from ``template``; a clash is a configuration error."""
    _check_template(template)
    ids = [
        template.format(
            stem=stem, date=day.strftime("%Y%m%d"), hash=digest[:8], n=n, campaign=campaign or 0
        )
        for n in range(1, count + 1)
    ]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"batch id template {template!r} gives the same id to several batches; include {{n}}"
        )
    bad = [i for i in ids if not i or _UNSAFE.search(i)]
    if bad:
        raise ConfigError(
            f"batch id {bad[0]!r} has characters other than letters, digits, '.', '_' and '-'"
        )
    return ids


def plan_batches(
    records: Sequence[Record],
    *,
    batch_size: int,
    ids: Sequence[str] | None = None,
    template: str = DEFAULT_TEMPLATE,
    stem: str = "batch",
    digest: str = "",
    day: Date | None = None,
    campaign: int | None = None,
) -> list[PlannedBatch]:
    """Split records (file order) into batches of at most ``batch_size`` and name them."""
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, not {batch_size}")
    groups = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    if ids is None:
        ids = batch_ids(
            template,
            len(groups),
            stem=stem,
            digest=digest,
            day=day or Date.today(),
            campaign=campaign,
        )
    if len(ids) < len(groups):
        raise ConfigError(f"{len(groups)} batches needed but only {len(ids)} batch id(s) given")
    return [
        PlannedBatch(seq=n, batch_id=ids[n - 1], records=group)
        for n, group in enumerate(groups, start=1)
    ]


def variable_names(records: Iterable[Record], preferred: Sequence[str] = ()) -> list[str]:
    """Variable columns for a CSV: the mapping's order first, then any others as first seen."""
    names = list(dict.fromkeys(preferred))
    seen = set(names)
    for record in records:
        for key in record.request.request_variables:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return names


def upload_csv(records: Sequence[Record], variables: Sequence[str] = ()) -> bytes:
    """The multipart body for one batch: ``reference_id,target,<variables...>`` in UTF-8."""
    names = variable_names(records, variables)
    reserved = {"reference_id", "target"} & set(names)
    if reserved:
        raise ConfigError(f"variable name(s) {sorted(reserved)} clash with the CSV's own columns")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["reference_id", "target", *names])
    for record in records:
        request = record.request
        values = request.request_variables
        writer.writerow(
            [request.reference_id, request.target, *(values.get(name, "") for name in names)]
        )
    return buffer.getvalue().encode("utf-8")
