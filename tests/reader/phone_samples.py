"""Generated phone-number texts in many formats and regions (parity test and benchmark)."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = ["DEFAULT_REGIONS", "generate_numbers"]

DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "AR", "MX", "AU", "CA", "IT", "JP", "NL")
_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)


def _examples() -> list[phonenumbers.PhoneNumber]:
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                out.append(number)
    return out


def _mutate(rng: random.Random, digits: str) -> str:
    chars = list(digits)
    for _ in range(rng.choice((0, 0, 1, 2))):
        chars[rng.randrange(len(chars))] = str(rng.randrange(10))
    if rng.random() < 0.1:
        chars.insert(rng.randrange(len(chars) + 1), str(rng.randrange(10)))
    if rng.random() < 0.1 and len(chars) > 3:
        del chars[rng.randrange(len(chars))]
    return "".join(chars)


def _punctuate(rng: random.Random, digits: str) -> str:
    seps = rng.choice((" ", "-", ".", ""))
    out, i = [], 0
    while i < len(digits):
        step = rng.choice((2, 3, 3, 4))
        out.append(digits[i : i + step])
        i += step
    text = seps.join(out)
    if rng.random() < 0.2 and len(out) > 2:
        text = f"({out[0]}) " + seps.join(out[1:])
    return text


def generate_numbers(count: int, seed: int = 7) -> list[str]:
    """``count`` phone texts: E.164, national, international, Excel-ish, junk, vanity, ext."""
    rng = random.Random(seed)
    examples = _examples()
    us = [n for n in examples if n.country_code == 1]
    out: list[str] = []
    while len(out) < count:
        number = rng.choice(us if rng.random() < 0.3 else examples)
        nsn = _mutate(rng, phonenumbers.national_significant_number(number))
        cc = str(number.country_code)
        style = rng.randrange(14)
        if style == 0:
            text = f"+{cc}{nsn}"
        elif style == 1:
            text = f"+{cc} " + _punctuate(rng, nsn)
        elif style == 2:
            text = _punctuate(rng, nsn)
        elif style == 3:
            text = nsn
        elif style == 4:
            text = "0" + _punctuate(rng, nsn)
        elif style == 5:
            text = cc + nsn
        elif style == 6:
            text = rng.choice(("00", "011", "0011", "810")) + cc + nsn
        elif style == 7:
            try:
                parsed = phonenumbers.parse(f"+{cc}{nsn}")
                fmt = rng.choice(
                    (
                        PhoneNumberFormat.NATIONAL,
                        PhoneNumberFormat.INTERNATIONAL,
                        PhoneNumberFormat.RFC3966,
                    )
                )
                text = phonenumbers.format_number(parsed, fmt)
            except phonenumbers.NumberParseException:
                text = nsn
        elif style == 8:
            text = _punctuate(rng, nsn) + rng.choice(
                (" x12", " ext. 7", "#3", ";ext=9", "X5", "ext123", " Ext.  4", " x 1234567")
            )
        elif style == 9:
            text = rng.choice(
                (
                    "1-800-FLOWERS",
                    "call me",
                    "n/a",
                    "+",
                    "12",
                    "0",
                    "--",
                    "+0 12 34",
                    "＋１ ５１２ ５５５ １２３４",
                    "+1\u00a0512\u00a0555\u00a01234",
                    "++1 512 555 1234",
                    "tel:+1-512-555-1234",
                    "5125551234 / 5125550000",
                )
            )
        elif style == 10:
            text = "1" + _punctuate(rng, nsn)
        elif style == 11:
            text = f"{nsn}.0"
        elif style == 12:
            text = "+" + _punctuate(rng, cc + nsn) + rng.choice(("", "-", ")"))
        else:
            text = "".join(rng.choice(("", " ", "(", ")", "-")) + d for d in nsn)
        out.append(text)
    return out
