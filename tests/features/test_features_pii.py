"""PII-safe output: with default settings no full phone number of the input reaches the console
or a log file (every command of a realistic session is scanned); reports keep full values;
--show-pii opts out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.features.conftest import phone, write_csv
from tests.helpers import RunCli
from uploader.config import ReadOptions
from uploader.emulator import EmulatorHandle
from uploader.pii import Masker, PiiFilter, mask_phone, mask_text, mask_value
from uploader.validation import validate

HEADER = ["reference_id", "phone", "first_name"]


def _messy(path: Path) -> Path:
    rows = [
        ["r1", phone(1), "Ann"],
        ["r2", "(512) 555-2002", "Bob"],
        ["r3", "512.555.2003", "Cyd"],
        ["r4", "+1 512 555 2004", "Dee"],
        ["r5", "15125552005", "Eve"],
        ["r6", "+1 512 555 20", "Fay"],  # invalid: too short
        ["r7", "+44 20 7946 0958", "Gus"],
        ["r8", "+1 512 555 2008x", "Hal"],  # invalid: junk
        ["r1", phone(9), "Ivy"],  # duplicate reference id
        ["r10", phone(10), ""],  # required variable empty
    ]
    return write_csv(path, HEADER, rows)


def _numbers(file: Path) -> set[str]:
    """Every number of the input, as E.164 and as bare national digits."""
    result = validate(file, ReadOptions())
    found = {str(t) for t in result.targets_e164 if str(t)}
    raw = [str(v) for v in result.table.columns[1]]
    found |= {"+" + re.sub(r"\D", "", v) for v in raw if len(re.sub(r"\D", "", v)) >= 10}
    return found | {n[-10:] for n in found}


@pytest.mark.parametrize(
    "extra",
    [
        [],
        pytest.param(["--debug"], marks=pytest.mark.slow),
        pytest.param(["--show-pii"], marks=pytest.mark.slow),  # the scan can fail
    ],
)
def test_no_full_phone_number_in_console_or_log(
    tmp_path: Path,
    run_cli: RunCli,
    server_args: list[str],
    emulator: EmulatorHandle,
    extra: list[str],
) -> None:
    file = _messy(tmp_path / "messy.csv")
    log = tmp_path / "run.log"
    emulator.configure(time_scale=100_000)
    emulator.set_faults(error_rate=0.15)  # retries get logged too
    g = [*extra, "--log-file", log]
    common = [*server_args, "--campaign-id", 2, "--require-vars", "first_name"]
    seen: list[str] = []
    for args in (
        ["validate", file, "--require-vars", "first_name"],
        ["validate", file, "--json"],
        ["upload", file, *common, "--mode", "add", "--sample", 2, "--sample-wait", 5],
        ["upload", file, *common, "--mode", "add", "--failed", tmp_path / "failed.csv"],
        ["upload", file, *common, "--mode", "add", "--json", "--report", tmp_path / "r.csv"],
        ["plan", file, *common, "--mode", "add", "--batch-id", "x", "--out", tmp_path / "p.json"],
        ["plan", file, *common, "--mode", "add", "--batch-id", "x", "--json"],
        ["upload", file, *common, "--batch-id", "nope", "--mode", "upload", "--batch-size", 1],
    ):
        _code, out, err = run_cli(*g, *args)
        assert "Traceback" not in err or extra, err
        seen += [out, err]
    emulator.set_faults(error_rate=0.0)
    seen.append(log.read_text(encoding="utf-8"))
    text = "\n".join(seen)
    assert ("•••" in text) != ("--show-pii" in extra)  # numbers were shown, masked or not
    leaks = sorted(n for n in _numbers(file) if n in text)
    if "--show-pii" in extra:
        assert phone(1) in leaks
    else:
        assert leaks == []
    # reports and the failed file keep full values: they are the user's own data
    assert phone(1) in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "+1 512 555 20" in (tmp_path / "failed.csv").read_text(encoding="utf-8-sig")


def test_show_pii_shows_full_numbers(
    tmp_path: Path, run_cli: RunCli, server_args: list[str]
) -> None:
    file = _messy(tmp_path / "messy.csv")
    log = tmp_path / "run.log"
    _code, out, _err = run_cli("--show-pii", "--log-file", log, "validate", file)
    assert "+1 512 555 20" in out
    _code, out, _err = run_cli("validate", file)
    assert "+1 512 555 20" not in out and "+1512•••20" in out


def test_masking_helpers() -> None:
    assert mask_phone("+15125552301") == "+1512•••2301"
    assert mask_phone("(512) 555-2301") == "512•••2301"
    assert mask_phone("12") == "•••"
    assert mask_value("Alice Smith") == "A•••" and mask_value("Al") == "•••"
    assert mask_value("") == ""
    text = "batch contacts-20261129-1a2b3c4d-001 on 2026-12-01 at 10:30, row 12, id 5"
    assert mask_text(text) == text  # dates, batch ids and small numbers are not phones
    assert mask_text("Row 3: 'Alice Smith' is bad", {"Alice Smith"}) == "Row 3: 'A•••' is bad"


def test_log_filter_masks_arguments_and_tracebacks() -> None:
    import logging

    masker = Masker()
    masker.remember(["Zelda Quux"])
    record = logging.LogRecord(
        "uploader", logging.INFO, __file__, 1, "sent %s to %r", ("+15125552301", "Zelda Quux"), None
    )
    assert PiiFilter(masker).filter(record)
    assert record.getMessage() == "sent +1512•••2301 to 'Z•••'"
    masker.enabled = False
    record = logging.LogRecord("uploader", logging.INFO, __file__, 1, "%s", ("+15125552301",), None)
    PiiFilter(masker).filter(record)
    assert record.getMessage() == "+15125552301"


@given(
    number=st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True),
    before=st.text(alphabet=st.characters(categories=["L", "Zs", "P"]), max_size=20),
    after=st.text(alphabet=st.characters(categories=["L", "Zs", "P"]), max_size=20),
)
def test_any_e164_number_is_masked_wherever_it_stands(number: str, before: str, after: str) -> None:
    masked = mask_text(f"{before}{number}{after}")
    assert number not in masked
    assert number[-2:] in masked  # still recognisable by its last digits
