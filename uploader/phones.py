"""Phone numbers to E.164, a whole column at a time, agreeing exactly with ``phonenumbers``.

The reference is ``phonenumbers.parse(value, region)`` + ``is_valid_number`` + E.164 formatting.
For the common shapes (digits with spaces, dashes, dots, brackets, an optional leading ``+``) the
result depends only on the digits and the plus sign, so we replay the same steps on whole Arrow
columns with the library's own metadata: country-code extraction, national-prefix stripping, the
possible-lengths table, the general and per-type number patterns, and the region choice for shared
country codes (NANPA). The patterns run in RE2 through ``pyarrow.compute``.

Anything outside that envelope -- letters, extensions, other scripts, international-dialling
prefixes, national-prefix transform rules, non-geographic codes, patterns RE2 cannot compile -- is
*not guessed*: it goes to ``phonenumbers`` itself, once per distinct value. Speed comes from doing
the same work on columns, never from checking less; ``tests/reader`` holds the parity test.
"""

from __future__ import annotations

import functools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from uploader.cells import _bytes_of

_NON_GEO = "001"  # phonenumbers' REGION_CODE_FOR_NON_GEO_ENTITY

__all__ = ["e164_column", "e164_one", "invalid_reason"]

_PLAIN = r"^\+?[0-9 ().\-]+$"
# "x12", "ext. 7" after a plain number: phonenumbers strips it and E.164 leaves it out.
_EXTENSION = r"(?i)[ ]*(?:x|ext\.?)[ ]?[0-9]{1,6}$"
_WITH_EXTENSION = r"(?i)^\+?[0-9 ().\-]+?[ ]*(?:x|ext\.?)[ ]?[0-9]{1,6}$"
_MAX_INPUT = 250
_SCIENTIFIC = re.compile(r"^[0-9](?:[.,][0-9]+)?[eE][+]?[0-9]+$")
_MIN_NSN, _MAX_NSN = 2, 17

# _test_number_length outcomes (phonenumbers.ValidationResult)
_IS_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _INVALID_LENGTH, _TOO_LONG = range(5)
_STRIP_KEEPS = np.array([True, False, False, False, True])  # possible or too long: keep stripped

_TYPE_ATTRS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _NoFastPath(Exception):
    """This metadata uses something the column path does not replay; use phonenumbers."""


def _re2_ok(pattern: str) -> bool:
    try:
        pc.match_substring_regex(pa.array(["0"]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


@dataclass
class _Rules:
    """One region's metadata, pre-digested for column work."""

    region: str
    country_code: int
    general: str | None  # anchored general_desc pattern
    npp: str | None  # anchored national_prefix_for_parsing, or None
    has_transform: bool
    length_table: np.ndarray  # length -> _IS_POSSIBLE / _TOO_SHORT / ...
    general_lengths: frozenset[int]
    # length -> anchored union of the type patterns whose possible lengths include it
    type_union: dict[int, str] = field(default_factory=dict)
    leading_digits: str | None = None


@functools.lru_cache(maxsize=512)
def _rules(region: str) -> _Rules | None:
    """Rules for a region code, or None when the fast path must not be used for it."""
    meta = PhoneMetadata.metadata_for_region(region, None)
    if meta is None or region == _NON_GEO:
        return None
    try:
        return _digest(region, meta)
    except _NoFastPath:
        return None


def _anchor(pattern: str | None) -> str | None:
    if pattern is None or len(pattern) == 0:
        return None
    anchored = f"^(?:{pattern})$"
    if not _re2_ok(anchored):
        raise _NoFastPath(pattern)
    return anchored


def _digest(region: str, meta: PhoneMetadata) -> _Rules:
    general = meta.general_desc
    if general is None or meta.country_code is None:
        raise _NoFastPath(region)
    possible = tuple(general.possible_length)
    local = tuple(general.possible_length_local_only)
    if not possible:
        raise _NoFastPath(region)
    table = np.empty(_MAX_INPUT + 2, dtype=np.int8)
    for n in range(len(table)):
        if n in local:
            table[n] = _LOCAL_ONLY
        elif possible[0] == n:
            table[n] = _IS_POSSIBLE
        elif possible[0] > n:
            table[n] = _TOO_SHORT
        elif possible[-1] < n:
            table[n] = _TOO_LONG
        elif n in possible[1:]:
            table[n] = _IS_POSSIBLE
        else:
            table[n] = _INVALID_LENGTH
    npp = meta.national_prefix_for_parsing
    npp_anchored = None
    if npp:
        npp_anchored = f"^(?:{npp})"
        if not _re2_ok(npp_anchored):
            raise _NoFastPath(npp)
    descs = [getattr(meta, a) for a in _TYPE_ATTRS]
    if not meta.same_mobile_and_fixed_line_pattern:
        descs.append(meta.mobile)
    by_length: dict[int, list[str]] = {}
    for n in set(general.possible_length):
        for desc in descs:
            if desc is None or not desc.national_number_pattern:
                continue
            lengths = desc.possible_length
            if len(lengths) > 0 and n not in lengths:
                continue
            by_length.setdefault(n, []).append(desc.national_number_pattern)
    type_union = {}
    for n, patterns in by_length.items():
        anchored = _anchor("|".join(f"(?:{p})" for p in patterns))
        assert anchored is not None
        type_union[n] = anchored
    leading = meta.leading_digits
    if leading is not None:
        leading = f"^(?:{leading})"
        if not _re2_ok(leading):
            raise _NoFastPath(leading)
    return _Rules(
        region=region,
        country_code=int(meta.country_code),
        general=_anchor(general.national_number_pattern),
        npp=npp_anchored,
        has_transform=bool(meta.national_prefix_transform_rule),
        length_table=table,
        general_lengths=frozenset(general.possible_length),
        type_union=type_union,
        leading_digits=leading,
    )


# ------------------------------------------------------------------------ column primitives


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _match(values: pa.Array, anchored: str | None) -> np.ndarray:
    if anchored is None or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    return _np(pc.match_substring_regex(values, anchored))


def _lengths(values: pa.Array) -> np.ndarray:
    """Byte lengths: the same as character lengths for the ASCII digit strings used here."""
    return _np(pc.binary_length(values)).astype(np.int64)


def _take(values: pa.Array, rows: np.ndarray) -> pa.Array:
    return values.take(pa.array(rows, type=pa.int64()))


def _strip_national_prefix(values: pa.Array, rules: _Rules) -> tuple[pa.Array, np.ndarray]:
    """phonenumbers' _maybe_strip_national_prefix_carrier_code; returns (number, uncertain)."""
    uncertain = np.zeros(len(values), dtype=bool)
    if rules.npp is None or len(values) == 0:
        return values, uncertain
    matched = _match(values, rules.npp) & (_lengths(values) > 0)
    if not matched.any():
        return values, uncertain
    if rules.has_transform:
        return values, matched  # transform rules are left to phonenumbers
    rows = np.nonzero(matched)[0]
    subset = _take(values, rows)
    rest = pc.replace_substring_regex(subset, rules.npp, "", max_replacements=1)
    viable_original = _match(subset, rules.general)
    rest_matches = _match(rest, rules.general)
    strip = ~(viable_original & ~rest_matches)
    if not strip.any():
        return values, uncertain
    mask = np.zeros(len(values), dtype=bool)
    mask[rows[strip]] = True
    return pc.replace_with_mask(values, pa.array(mask), rest.filter(pa.array(strip))), uncertain


def _length_status(values: pa.Array, rules: _Rules) -> np.ndarray:
    lengths = np.minimum(_lengths(values), len(rules.length_table) - 1)
    return rules.length_table[lengths]


def _type_ok(values: pa.Array, rules: _Rules) -> np.ndarray:
    """phonenumbers' _number_type_helper(...) != UNKNOWN, for a column of national numbers."""
    lengths = _lengths(values)
    ok = np.zeros(len(values), dtype=bool)
    candidates = np.nonzero(np.isin(lengths, list(rules.general_lengths)))[0]
    if not len(candidates):
        return ok
    in_general = np.zeros(len(values), dtype=bool)
    in_general[candidates] = _match(_take(values, candidates), rules.general)
    for n, union in rules.type_union.items():
        rows = np.nonzero(in_general & (lengths == n))[0]
        if len(rows):
            ok[rows] = _match(_take(values, rows), union)
    return ok


def _valid_for_cc(nsn: pa.Array, cc: int) -> tuple[np.ndarray, np.ndarray]:
    """is_valid_number for (cc, nsn) rows; returns (valid, uncertain)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    valid = np.zeros(len(nsn), dtype=bool)
    uncertain = np.zeros(len(nsn), dtype=bool)
    if not regions:
        return valid, uncertain
    if len(regions) == 1:
        rules = _rules(regions[0])
        if rules is None:
            return valid, np.ones(len(nsn), dtype=bool)
        return _type_ok(nsn, rules), uncertain
    open_rows = np.arange(len(nsn))
    for region in regions:
        if not len(open_rows):
            break
        rules = _rules(region)
        if rules is None:
            uncertain[open_rows] = True
            break
        subset = nsn.take(pa.array(open_rows))
        if rules.leading_digits is not None:
            hit = _match(subset, rules.leading_digits)
            valid[open_rows[hit]] = _type_ok(subset.filter(pa.array(hit)), rules)
        else:
            hit = _type_ok(subset, rules)
            valid[open_rows[hit]] = True
        open_rows = open_rows[~hit]
    return valid, uncertain


def _finish(nsn: pa.Array, rules: _Rules, cc: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Strip the national prefix (when the length test allows), then validate."""
    stripped, uncertain = _strip_national_prefix(nsn, rules)
    keep = _STRIP_KEEPS[_length_status(stripped, rules)]
    nsn = pc.if_else(pa.array(keep), stripped, nsn)
    lengths = _lengths(nsn)
    valid, unsure = _valid_for_cc(nsn, cc)
    valid &= (lengths >= _MIN_NSN) & (lengths <= _MAX_NSN)
    return nsn, valid, uncertain | unsure


# ----------------------------------------------------------------------------------- public


def e164_one(value: str, region: str) -> str:
    """The reference: phonenumbers parse + is_valid_number + E.164, "" when invalid."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def invalid_reason(value: str, region: str) -> str:
    """Plain-English reason why ``value`` is not a valid number (for the row's message)."""
    if _SCIENTIFIC.match(value.strip()):
        return (
            "Excel scientific notation: the digits were lost when this file was saved; format "
            "the column as Text or as Number with 0 decimals and export again"
        )
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        reasons = {
            phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
            phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
            phonenumbers.NumberParseException.TOO_LONG: "too long",
        }
        return reasons.get(exc.error_type, "not a phone number")
    why = phonenumbers.is_possible_number_with_reason(number)
    results = phonenumbers.ValidationResult
    if why == results.TOO_SHORT:
        return "too short"
    if why == results.TOO_LONG:
        return "too long"
    if why == results.INVALID_COUNTRY_CODE:
        return "unknown country code"
    if why in (results.INVALID_LENGTH, results.IS_POSSIBLE_LOCAL_ONLY):
        return "wrong number of digits"
    return "no such number range"


def e164_column(values: pa.Array | pa.ChunkedArray, region: str) -> pa.Array:
    """E.164 text for every value ("" where invalid or empty), same as :func:`e164_one`."""
    if len(values) == 0:
        return pa.array([], type=pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    sample = values.slice(0, _SAMPLE)
    if pc.count_distinct(sample).as_py() > 0.7 * len(sample):
        return _e164_split(values, region)  # mostly distinct: deduplicating costs more
    encoded = pc.dictionary_encode(values)
    unique_e164 = _e164_split(encoded.dictionary, region)
    return unique_e164.take(encoded.indices)


_SAMPLE = 20_000
_SPLIT_AT = 200_000  # below this, threads cost more than they save


def _e164_split(values: pa.Array, region: str) -> pa.Array:
    """:func:`_e164_distinct` over slices in threads: the Arrow and numpy kernels it spends its
    time in release the GIL, so a 1M-row column takes about half the wall time on two cores."""
    workers = min(os.cpu_count() or 1, 4, len(values) // _SPLIT_AT)
    if workers < 2:
        return _e164_distinct(values, region)
    _rules(region.upper())  # load the region's metadata once, before the threads share it
    PhoneMetadata.metadata_for_region(region.upper())
    step = -(-len(values) // workers)
    parts = [values.slice(start, step) for start in range(0, len(values), step)]
    with ThreadPoolExecutor(workers, thread_name_prefix="e164") as pool:
        done = list(pool.map(lambda part: _e164_distinct(part, region), parts))
    return pa.concat_arrays(done)


def _e164_distinct(values: pa.Array, region: str) -> pa.Array:
    """The column work; values need not be distinct (the per-value fallback caches anyway)."""
    n = len(values)
    out: _Pieces = []
    done = np.zeros(n, dtype=bool)
    lengths = _lengths(values)
    done |= lengths == 0
    core = values
    with_extension = np.zeros(n, dtype=bool)
    maybe = np.nonzero(_np(pc.match_substring_regex(values, "[xX]")))[0]
    if len(maybe):
        with_extension[maybe] = _match(_take(values, maybe), _WITH_EXTENSION)
    if with_extension.any():
        mask = pa.array(with_extension)
        stripped = pc.replace_substring_regex(
            values.filter(mask), _EXTENSION, "", max_replacements=1
        )
        core = pc.replace_with_mask(values, mask, stripped)
    plain, plus, digits = _plain_digits(core)
    plain &= lengths <= _MAX_INPUT
    ndigits = _lengths(digits)
    fast = plain & (ndigits >= 3) & (ndigits <= _MAX_NSN) & ~done
    certain = np.zeros(n, dtype=bool)

    # '+' numbers: country code from the digits, then that country's rules.
    rows = np.nonzero(fast & plus)[0]
    if len(rows):
        _plus_path(digits.take(pa.array(rows)), rows, out, certain)
    rows = np.nonzero(fast & ~plus)[0]
    rules = _rules(region.upper()) if region else None
    if len(rows) and rules is not None and PhoneMetadata.metadata_for_region(region.upper()):
        _national_path(digits.take(pa.array(rows)), rows, rules, out, certain)

    rest = np.nonzero(~certain & ~done)[0]
    if len(rest):
        texts = values.take(pa.array(rest)).to_pylist()
        cache: dict[str, str] = {}
        for text in texts:
            if text not in cache:
                cache[text] = e164_one(text, region)
        out.append((rest, pa.array([cache[t] for t in texts], type=pa.string())))
    return _assemble(out, n)


_Pieces = list[tuple[np.ndarray, pa.Array]]

_PLAIN_BYTES = np.zeros(256, dtype=bool)
_PLAIN_BYTES[[ord(c) for c in "0123456789 ().-"]] = True


def _plain_digits(values: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(plain, leading plus, digits) per value, straight from the UTF-8 bytes.

    *plain* is ``^\\+?[0-9 ().\\-]+$`` (the shape whose parse depends only on its digits); *digits*
    keeps the ASCII digits of each value, in order. One pass of numpy over the bytes instead of
    a regex and six replaces.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = values.cast(pa.string())
    n = len(values)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool), pa.array([], pa.string())
    offsets, data = _bytes_of(values)
    data = data[offsets[0] : offsets[-1]]
    offsets = (offsets - offsets[0]).astype(np.int64)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    plus = np.zeros(n, dtype=bool)
    plus[filled] = data[starts[filled]] == ord("+")
    allowed = _PLAIN_BYTES[data]
    allowed[starts[plus]] = True
    bad = np.concatenate(([0], np.cumsum(~allowed, dtype=np.int64)))
    plain = filled & (bad[ends] == bad[starts]) & ~(plus & (ends - starts == 1))
    is_digit = (data >= ord("0")) & (data <= ord("9"))
    kept = np.concatenate(([0], np.cumsum(is_digit, dtype=np.int64)))
    new_offsets = kept[offsets].astype(np.int32)
    digits = pa.StringArray.from_buffers(
        n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(data[is_digit].tobytes())
    )
    return plain, plus, digits


def _assemble(pieces: _Pieces, n: int) -> pa.Array:
    """One column from (row indexes, texts) pieces; rows in no piece get ""."""
    pieces = [(rows, texts) for rows, texts in pieces if len(rows)]
    if not pieces:
        return pa.array([""] * n, type=pa.string())
    rows = np.concatenate([r for r, _ in pieces])
    texts = pa.concat_arrays([t for _, t in pieces])
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    picked = texts.take(pa.array(position, mask=position < 0))
    return pc.fill_null(picked, "")


def _plus_path(digits: pa.Array, rows: np.ndarray, out: _Pieces, certain: np.ndarray) -> None:
    codes = pa.array(sorted(str(c) for c in COUNTRY_CODE_TO_REGION_CODE))
    cc_text = pa.nulls(len(digits), pa.string())
    for width in (3, 2, 1):  # the shortest known prefix wins, as in _extract_country_code
        prefix = pc.utf8_slice_codeunits(digits, 0, width)
        cc_text = pc.if_else(pc.is_in(prefix, value_set=codes), prefix, cc_text)
    cc_text = pc.if_else(pc.starts_with(digits, "0"), pa.scalar(None, pa.string()), cc_text)
    encoded = pc.dictionary_encode(cc_text)
    groups = _np(encoded.indices.fill_null(-1)).astype(np.int64)
    for g, code in enumerate(encoded.dictionary.to_pylist()):
        # rows without a known country code stay uncertain: phonenumbers retries oddly
        cc = int(code)
        regions = COUNTRY_CODE_TO_REGION_CODE[cc]
        rules = _rules(regions[0])
        if rules is None:
            continue
        sel = np.nonzero(groups == g)[0]
        national = pc.utf8_slice_codeunits(digits.take(pa.array(sel)), len(code))
        nsn, valid, unsure = _finish(national, rules, cc)
        _store(nsn, valid, unsure, cc, rows[sel], out, certain)


def _national_path(
    digits: pa.Array, rows: np.ndarray, rules: _Rules, out: _Pieces, certain: np.ndarray
) -> None:
    meta = PhoneMetadata.metadata_for_region(rules.region)
    idd = meta.international_prefix if meta is not None else None
    unsure = np.zeros(len(digits), dtype=bool)
    if idd:
        idd_anchored = f"^(?:{idd})"
        if not _re2_ok(idd_anchored):
            return
        unsure |= _match(digits, idd_anchored)  # dialled abroad: let phonenumbers decide

    cc = rules.country_code
    code = str(cc)
    starts = _np(pc.starts_with(digits, code)) & ~unsure
    with_cc = np.zeros(len(digits), dtype=bool)
    main = _rules(COUNTRY_CODE_TO_REGION_CODE[cc][0])
    cc_rows = np.nonzero(starts)[0]
    if len(cc_rows):
        if main is None:
            return
        # _maybe_extract_country_code: keep the default country code when the number is not
        # possible as written but is without it (or is too long as written).
        written = _take(digits, cc_rows)
        potential = pc.utf8_slice_codeunits(written, len(code))
        potential, strip_unsure = _strip_national_prefix(potential, rules)
        unsure[cc_rows[strip_unsure]] = True
        original_ok = _match(written, rules.general)
        potential_ok = _match(potential, rules.general)
        too_long = _length_status(written, rules) == _TOO_LONG
        taken = ((~original_ok & potential_ok) | too_long) & ~strip_unsure
        with_cc[cc_rows[taken]] = True
        sel = cc_rows[taken]
        if len(sel):
            # read with the country code: the main region's rules apply from here on
            nsn, valid, more_unsure = _finish(potential.filter(pa.array(taken)), main, cc)
            _store(nsn, valid, more_unsure, cc, rows[sel], out, certain)
    sel = np.nonzero(~with_cc & ~unsure)[0]
    if len(sel):
        nsn, valid, more_unsure = _finish(_take(digits, sel), rules, cc)
        _store(nsn, valid, more_unsure, cc, rows[sel], out, certain)


def _store(
    nsn: pa.Array,
    valid: np.ndarray,
    unsure: np.ndarray,
    cc: int,
    rows: np.ndarray,
    out: _Pieces,
    certain: np.ndarray,
) -> None:
    good = ~unsure & valid
    if good.any():
        mask = pa.array(good)
        out.append((rows[good], pc.binary_join_element_wise(f"+{cc}", nsn.filter(mask), "")))
    certain[rows[~unsure]] = True
