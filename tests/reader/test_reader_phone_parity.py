"""Column-wise E.164 equals phonenumbers.parse + is_valid_number + format_number, row by row."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from phone_samples import DEFAULT_REGIONS, generate_numbers

from tests.phone_reference import phonenumbers_e164
from uploader.phones import _e164_distinct, e164_column, e164_one


def _check(values: list[str], region: str) -> None:
    got = e164_column(pa.array(values, type=pa.string()), region).to_pylist()
    wrong = [
        (v, want, have)
        for v, have in zip(values, got, strict=True)
        if (want := phonenumbers_e164(v, region)) != have
    ]
    assert not wrong, f"{len(wrong)} of {len(values)} differ in {region}, e.g. {wrong[:5]}"


def test_parity_on_10000_generated_numbers() -> None:
    numbers = generate_numbers(10_000, seed=11)
    # Every number is checked under one default region; regions rotate through the list.
    for k, region in enumerate(DEFAULT_REGIONS):
        _check(numbers[k :: len(DEFAULT_REGIONS)], region)


def test_parity_with_repeats_and_empties() -> None:
    values = ["", "5125551234", "5125551234", "(512) 555-1234", "", "+15125551234 x7"] * 50
    _check(values, "US")
    assert e164_one("(512) 555-1234", "US") == "+15125551234"


@pytest.mark.slow
@pytest.mark.parametrize("region", DEFAULT_REGIONS)
def test_parity_every_number_in_every_region(region: str) -> None:
    _check(generate_numbers(10_000, seed=3), region)


def test_common_shapes_never_reach_the_per_value_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import uploader.phones as phones

    calls: list[str] = []
    monkeypatch.setattr(phones, "e164_one", lambda value, region: calls.append(value) or "")
    values = [
        "(512) 555-1234",
        "512-555-1234",
        "512.555.1234",
        "5125551234",
        "+1 512 555 1234",
        "1-512-555-1234",
        "+15125551234",
        "512-555-1234 x12",
        "+44 20 7946 0958",
        "+49 30 123456",
        "555-1234",
    ]
    got = phones.e164_column(pa.array(values), "US").to_pylist()
    assert calls == []
    assert got[:8] == ["+15125551234"] * 8
    assert got[8] == "+442079460958"
    assert got[-1] == ""


def test_a_large_column_split_across_threads_equals_the_single_pass() -> None:
    # 400,000 distinct US-shaped numbers in four spellings (valid and invalid ranges) with the
    # varied generated ones mixed in: e164_column takes the threaded path, and the slices must
    # join back in row order with the same answers as one pass.
    spellings = ("{}", "({}) {}-{}", "+1 {}.{}.{}", "1-{}-{}-{}")
    values = []
    for i in range(400_000):
        d = str(2_000_000_000 + i * 19_997)
        parts = (d,) if i % 4 == 0 else (d[:3], d[3:6], d[6:])
        values.append(spellings[i % 4].format(*parts))
    values[::40] = generate_numbers(10_000, seed=5)
    column = pa.array(values, type=pa.string())
    assert pc.count_distinct(column.slice(0, 20_000)).as_py() > 14_000  # the distinct branch
    split = e164_column(column, "US").to_pylist()
    single = _e164_distinct(column, "US").to_pylist()
    assert split == single
    assert 0 < split.count("") < len(split)  # both valid and invalid numbers are in play
    sample = range(0, len(values), 997)
    assert [split[i] for i in sample] == [phonenumbers_e164(values[i], "US") for i in sample]
