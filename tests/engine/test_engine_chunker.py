"""Chunking records into batches, naming the batches, and the upload CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploader.chunker import (
    batch_ids,
    content_hash,
    plan_batches,
    safe_stem,
    upload_csv,
)
from uploader.errors import ConfigError
from uploader.models import CommunicationRequest, Record


def records(n: int) -> list[Record]:
    return [
        Record(i + 2, CommunicationRequest(f"r{i}", f"+1512555{i:04d}", {"n": str(i)}))
        for i in range(n)
    ]


@given(n=st.integers(0, 300), size=st.integers(1, 50))
def test_batches_partition_records_in_order(n: int, size: int) -> None:
    plan = plan_batches(
        records(n), batch_size=size, stem="f", digest="0" * 64, day=date(2026, 1, 2)
    )
    assert [r for b in plan for r in b.records] == records(n)
    assert all(1 <= len(b.records) <= size for b in plan)
    assert [b.seq for b in plan] == list(range(1, len(plan) + 1))
    assert len({b.batch_id for b in plan}) == len(plan)


def test_default_ids_are_stable_for_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "Late payments (May).csv"
    path.write_text("reference_id,target\n1,+15125550100\n")
    digest = content_hash(path)
    ids = batch_ids(
        "{stem}-{date}-{hash}-{n:03d}", 2, stem=safe_stem(path), digest=digest, day=date(2026, 5, 1)
    )
    assert ids == [f"Late-payments-May-20260501-{digest[:8]}-001", ids[0][:-3] + "002"]
    again = batch_ids(
        "{stem}-{date}-{hash}-{n:03d}", 2, stem=safe_stem(path), digest=digest, day=date(2026, 5, 1)
    )
    assert again == ids


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{stem}", "same id"),
        ("{stem}-{nope}", "unknown field"),
        ("{stem", "malformed"),
        ("a b {n}", "characters"),
    ],
)
def test_bad_templates_are_config_errors(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        batch_ids(template, 2, stem="s", digest="d" * 64, day=date(2026, 1, 1))


def test_explicit_ids_must_cover_every_batch() -> None:
    with pytest.raises(ConfigError, match="3 batches needed"):
        plan_batches(records(5), batch_size=2, ids=["only-one"])


values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"))


@given(st.lists(st.tuples(values, values), min_size=1, max_size=20))
def test_upload_csv_round_trips_awkward_values(pairs: list[tuple[str, str]]) -> None:
    recs = [
        Record(i, CommunicationRequest(f"r{i}", "+15125550100", {"note": a, "city": b}))
        for i, (a, b) in enumerate(pairs)
    ]
    rows = list(csv.reader(io.StringIO(upload_csv(recs, ["city"]).decode("utf-8"), newline="")))
    assert rows[0] == ["reference_id", "target", "city", "note"]
    assert [r[2:] for r in rows[1:]] == [[b, a] for a, b in pairs]


def test_upload_csv_fills_missing_variables_with_empty_cells() -> None:
    recs = [
        Record(2, CommunicationRequest("a", "+15125550100", {"x": "1"})),
        Record(3, CommunicationRequest("b", "+15125550101", {"y": "2"})),
    ]
    assert upload_csv(recs).decode() == (
        "reference_id,target,x,y\na,+15125550100,1,\nb,+15125550101,,2\n"
    )
