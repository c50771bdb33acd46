"""Synthetic contact files for the benchmarks: mixed phone formats, realistic columns.

Deterministic (seeded), fast to write, and the same rows whatever the format, so CSV and XLSX
figures compare like with like.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

__all__ = ["HEADERS", "contact_rows", "write_csv", "write_xlsx"]

HEADERS = ["reference_id", "Phone Number", "First Name", "Last Name", "City", "Balance"]
_FIRST = ["Ann", "Bob", "Chloé", "Dan", "Eve", "Farah", "Günter", "Hana", "Ivan", "José"]
_LAST = ["Smith", "O'Neil", "García", "Nguyen", "Müller", "Kowalski", "Okafor", "Tanaka"]
_CITY = ["Austin", "Boston", "Chicago", "Denver", "El Paso", "Fresno", "Houston, TX"]
_NPA = [201, 212, 213, 305, 312, 415, 469, 503, 512, 617, 646, 702, 713, 786, 818, 917, 972]


def _phone(rng: random.Random) -> str:
    """A phone text in one of the formats people type (mostly US, some abroad, some junk)."""
    roll = rng.random()
    npa, nxx, line = rng.choice(_NPA), rng.randint(200, 999), rng.randint(0, 9999)
    if roll < 0.90:
        style = rng.randrange(8)
        return (
            f"({npa}) {nxx}-{line:04d}",
            f"{npa}-{nxx}-{line:04d}",
            f"{npa}.{nxx}.{line:04d}",
            f"{npa}{nxx}{line:04d}",
            f"+1 {npa} {nxx} {line:04d}",
            f"1-{npa}-{nxx}-{line:04d}",
            f"+1{npa}{nxx}{line:04d}",
            f"1 ({npa}) {nxx} {line:04d}",
        )[style]
    if roll < 0.96:
        return rng.choice(
            (
                f"+44 20 7946 {line:04d}",
                f"+44 7700 900{line % 1000:03d}",
                f"+49 30 {nxx}{line:04d}",
                f"+33 1 {nxx // 10:02d} {line // 100:02d} {line % 100:02d} 00",
                f"+61 2 9{nxx} {line:04d}",
                f"+52 55 {nxx} {line:04d}",
            )
        )
    if roll < 0.98:
        return rng.choice((f"{nxx}-{line:04d}", f"555-{line:04d}", "", "n/a", "000-000-0000"))
    return rng.choice((f"{npa}-{nxx}-{line:04d} x{line % 100}", f"1-800-FLOWERS{line % 10}"))


def contact_rows(count: int, seed: int = 42) -> Iterator[list[str]]:
    """``count`` rows under :data:`HEADERS` (about 1 in 500 ids repeated, 1 in 1000 blank)."""
    rng = random.Random(seed)
    for i in range(count):
        if rng.random() < 0.001:
            yield [""] * len(HEADERS)
            continue
        ref = f"C{(i if rng.random() > 0.002 else max(i - 7, 0)):08d}"
        yield [
            ref,
            _phone(rng),
            rng.choice(_FIRST),
            rng.choice(_LAST),
            rng.choice(_CITY),
            f"{rng.randint(0, 99999) / 100:.2f}",
        ]


def write_csv(path: Path, count: int, seed: int = 42) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(contact_rows(count, seed))
    return path


def write_xlsx(path: Path, count: int, seed: int = 42) -> Path:
    """An .xlsx as Excel users make it: phone numbers typed as numbers where they are digits."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Contacts")
    sheet.write_row(0, 0, HEADERS)
    for r, row in enumerate(contact_rows(count, seed), start=1):
        for c, value in enumerate(row):
            if value == "":
                continue
            if c in (1, 5) and value.replace(".", "", 1).isdigit():
                sheet.write_number(r, c, float(value))
            else:
                sheet.write_string(r, c, value)
    workbook.close()
    return path
