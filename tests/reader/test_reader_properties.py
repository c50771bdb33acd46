"""Property tests: cell-to-text conversion, text cleaning, and header alias matching."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from uploader.config import ReadOptions
from uploader.mapping import REFERENCE_ID_ALIASES, TARGET_ALIASES, fold_header, resolve_columns
from uploader.reader import cell_to_text, clean_array

_CONTROL = {chr(c) for c in [*range(0, 32), *range(127, 160)]} - {"\n", "\t"}


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_integers_are_their_digits(value: int) -> None:
    assert cell_to_text(value) == str(value)
    if abs(value) < 2**53:
        assert cell_to_text(float(value)) == str(value)  # Excel stores numbers as floats


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_never_show_exponent_or_trailing_point_zero(value: float) -> None:
    text = cell_to_text(value)
    assert "e" not in text.lower()
    assert not text.endswith(".0")
    if value.is_integer():
        assert text == str(int(value))  # whole numbers: every digit the cell holds
    else:
        assert float(text) == float(f"{value:.15g}")  # as Excel shows it: 15 significant


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)))
def test_datetimes_are_iso(value: dt.datetime) -> None:
    text = cell_to_text(value)
    parsed = dt.datetime.fromisoformat(text)
    assert parsed == value.replace(microsecond=0)
    assert len(text) in (10, 19)
    assert cell_to_text(value.date()) == value.date().isoformat()


@given(st.booleans())
def test_booleans(value: bool) -> None:
    assert cell_to_text(value) == ("true" if value else "false")


@given(st.lists(st.text(), max_size=20))
@settings(max_examples=200)
def test_cleaning_invariants(values: list[str]) -> None:
    cleaned = clean_array(pa.array(values, type=pa.string())).to_pylist()
    assert len(cleaned) == len(values)
    for raw, text in zip(values, cleaned, strict=True):
        assert not (set(text) & _CONTROL)
        assert text == text.strip()
        assert unicodedata.is_normalized("NFC", text), repr(text)
        expected = unicodedata.normalize(
            "NFC", "".join(ch for ch in raw if ch not in _CONTROL)
        ).strip()
        assert text == expected
    assert clean_array(pa.array(cleaned, type=pa.string())).to_pylist() == cleaned


_noise = st.sampled_from(["", " ", "_", "-", ".", "  ", ":"])


@st.composite
def _disguised(draw: st.DrawFn, alias: str) -> str:
    """The alias as a person might type it: any case, any spacing/punctuation between words."""
    out = []
    for ch in alias:
        if ch in " _":
            out.append(draw(_noise))
        else:
            out.append(ch.upper() if draw(st.booleans()) else ch.lower())
    return draw(_noise) + "".join(out) + draw(st.sampled_from(["", " ", "  "]))


@given(st.data())
def test_any_spelling_of_an_alias_is_found(data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(TARGET_ALIASES))
    ref = data.draw(st.sampled_from(REFERENCE_ID_ALIASES))
    headers = [data.draw(_disguised(ref)), "Name", data.draw(_disguised(target))]
    if fold_header(headers[0]) == fold_header(headers[2]):
        return
    mapping = resolve_columns(headers, ReadOptions())
    assert mapping.target == headers[2].strip()
    assert mapping.reference_id == headers[0].strip()
    assert mapping.variables == ("Name",)


@given(st.text(min_size=1, max_size=30))
def test_unrelated_headers_are_variables_not_ids(header: str) -> None:
    folded = fold_header(header)
    known = {fold_header(a) for a in (*TARGET_ALIASES, *REFERENCE_ID_ALIASES)}
    if folded in known or not header.strip() or header.strip() in ("Phone", "ID"):
        return
    mapping = resolve_columns(["ID", "Phone", header], ReadOptions())
    assert mapping.variables == (header.strip(),)


@given(
    st.lists(st.text(alphabet="0123456789 ().-+xé٣", max_size=12), max_size=30), st.integers(0, 3)
)
def test_plain_shape_and_digits_match_the_regex(values: list[str], skip: int) -> None:
    import re

    from uploader.phones import _PLAIN, _plain_digits

    array = pa.array(["pad"] * skip + values, type=pa.string()).slice(skip)  # non-zero offset
    plain, plus, digits = _plain_digits(array)
    for i, value in enumerate(values):
        assert plain[i] == bool(re.fullmatch(_PLAIN, value, flags=re.ASCII)), value
        assert plus[i] == value.startswith("+")
        assert digits[i].as_py() == "".join(ch for ch in value if ch in "0123456789")


@given(
    st.lists(
        st.one_of(st.floats(), st.text(max_size=5), st.integers(-(10**6), 10**6).map(float)),
        max_size=40,
    )
)
def test_bulk_column_conversion_equals_cell_by_cell(cells: list) -> None:
    from uploader.reader import _column_text

    assert list(_column_text(tuple(cells))) == [cell_to_text(c) for c in cells]
