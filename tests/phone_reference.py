"""phonenumbers' own answer for a phone cell, written out in the tests on purpose.

The parity and fuzz tests compare uploader/phones.py against this, so it must call phonenumbers
directly and never go through our code: a bug copied into both sides would pass unnoticed.
"""

from __future__ import annotations

import phonenumbers

__all__ = ["phonenumbers_e164"]


def phonenumbers_e164(value: str, region: str) -> str:
    """``phonenumbers.parse`` + ``is_valid_number`` + E.164 format; "" when either says no."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
