"""Column-wise E.164 equals phonenumbers.parse + is_valid_number + format_number, row by row."""

from __future__ import annotations

import pyarrow as pa
import pytest
from phone_samples import DEFAULT_REGIONS, generate_numbers

from tests.phone_reference import phonenumbers_e164
from uploader.phones import e164_column, e164_one


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
