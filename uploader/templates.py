"""The files we hand to people: spreadsheet templates, example settings and sample contact files.

They are written by code (one source of truth, no binary copies inside the package): the
``template`` command and the demo call :func:`write_templates` / :func:`write_samples`, and the
repository's ``templates/`` and ``samples/`` folders are their committed output (a test checks
they match; ``python -m uploader.templates`` rewrites them).

The samples show validation at work and load with default settings: ``contacts-clean`` is all
good; ``contacts-messy`` has what real exports have (phone numbers Excel turned into numbers,
mixed phone formats, a missing phone, a number too short, a repeated id, a blank row, accents, a
comma and a line break inside a cell).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from uploader.errors import ConfigError

__all__ = [
    "SAMPLE_FILES",
    "TEMPLATE_FILES",
    "TEMPLATE_HEADERS",
    "write_samples",
    "write_templates",
]

#: The template's header row: the two fields the API needs, then variables the prompts use.
TEMPLATE_HEADERS = [
    "reference_id",
    "target",
    "first_name",
    "last_name",
    "appointment_date",
    "clinic_name",
]
_EXAMPLE_ROW = ["EXAMPLE-0001", "+15125550100", "Ada", "Lovelace", "2026-12-15", "Downtown Clinic"]
_FIXED_TIME = datetime(2026, 1, 1)  # document properties, so the bytes are reproducible

_INSTRUCTIONS = [
    ("How to fill in this template", ""),
    ("", ""),
    ("One row per person to call.", "Keep the header row (row 1) exactly as it is."),
    (
        "Delete or replace the EXAMPLE row",
        "Row 2 is an example; anything left in the sheet is sent.",
    ),
    ("", ""),
    ("Column", "What to put in it"),
    (
        "reference_id",
        "Your own unique id for the row (a member or patient number). Required, unique in the "
        "file. Resending a file with the same ids never calls anyone twice.",
    ),
    (
        "target",
        "The phone number to call. Best as +15125550100 (E.164). 512-555-0100, (512) 555-0100 "
        "and 5125550100 also work for US numbers. The column is formatted as Text so Excel keeps "
        "the + and leading zeros.",
    ),
    (
        "Any other column",
        "Becomes a variable the agent's prompt can use, by its exact header text (first_name, "
        "appointment_date, ...). Add, remove or rename these columns freely.",
    ),
    ("", ""),
    ("Dates", "Type them as dates or as text like 2026-12-15; they are sent as 2026-12-15."),
    ("Blank rows", "Skipped and counted, never an error."),
    ("", ""),
    ("Sending it", ""),
    ("Drop folder", "Save the file into the inbox folder you were given; the report appears in"),
    ("", "done/ (every row accepted) or failed/ (some rows need fixing) next to your file."),
    ("Command line", "syllable-upload validate contacts.xlsx   (check only, sends nothing)"),
    ("", "syllable-upload upload contacts.xlsx --campaign-id 7 --report contacts-report.xlsx"),
    ("", ""),
    ("Reading the report", "Every row of your file, in order, with upload_status and upload_error"),
    ("", "beside it: accepted, refused (fix the cell named), rejected (the server said no),"),
    ("", "failed (try again later) or blank. Fix refused rows and send the file again."),
]

_CONFIG_EXAMPLE = """\
# syllable-upload config file: named profiles.
# Default location: see `syllable-upload config show` (the "config file" line);
# another file: --config PATH or SYLLABLE_UPLOAD_CONFIG. Choose a profile: --profile NAME or
# SYLLABLE_PROFILE; otherwise default_profile below, otherwise a profile called "default".
#
# Precedence, highest first: command-line flags > environment > drop-folder settings.toml >
# profile > built-in defaults.  The API key is never written here: name the environment variable
# (api_key_env) or the file (api_key_file) that holds it.

default_profile = "production"

[profiles.production]
server_url = "https://api.syllable.cloud"
api_key_env = "SYLLABLE_PROD_KEY"
campaign_id = 42
mode = "upload"              # one CSV per batch; "add" sends one request per row
batch_size = 10000
large_send_threshold = 20000 # sends above this many rows need --yes (or assume_yes = true)
region = "US"                # for numbers written without +country code

[profiles.staging]
server_url = "https://staging.example.invalid"
api_key_file = "~/.config/syllable-bulk-uploader/staging.key"
campaign_id = 7
batch_size = 500
keep_paused = true           # create batches paused; start them by hand

[profiles.local]
server_url = "http://127.0.0.1:8000"   # `syllable-upload emulator`
api_key_env = "SYLLABLE_EMULATOR_KEY"
campaign_id = 1
"""

_SETTINGS_EXAMPLE = """\
# Drop-folder settings: save as settings.toml in the folder you run
# `syllable-upload watch FOLDER` on. Every file dropped into FOLDER/inbox is validated and sent
# with these settings. Same keys as a config-file profile; relative paths are relative to FOLDER.

campaign_id = 42
server_url = "https://api.syllable.cloud"
api_key_env = "SYLLABLE_API_KEY"   # the variable holding the key, in the cron job's environment
mode = "upload"
# mapping = "mapping.toml"         # saved column settings (see mapping.example.toml)
# region = "US"
# require_vars = ["first_name", "appointment_date"]
# large_send_threshold = 20000
# assume_yes = true                # unattended folders must confirm large sends up front
"""

_MAPPING_EXAMPLE = """\
# Saved column settings for files whose headers are not the defaults; use with
# `--mapping mapping.toml` or `mapping = "mapping.toml"` in a profile or drop-folder settings.

exclude = ["SSN", "Internal notes"]   # columns never sent as variables
region = "US"                         # for numbers without +country code
require_vars = ["first_name"]         # rows missing these are refused
# generate_reference_ids = true       # when the file has no id column: stable ids from the rows
# dedupe_targets = true               # refuse a phone number seen earlier in the file
# header_row = 3                      # the header is on row 3 (title rows above it)
# sheet = "Contacts"

[columns]
target = "Mobile"              # the column holding the phone number
reference_id = "Member ID"     # the column holding your unique id
"""

_CRONTAB_EXAMPLE = """\
# Every 5 minutes: send whatever was dropped into ~/syllable-drop/inbox, quietly.
# --once processes what is ready, then exits; a lock stops overlapping runs.
# Exit codes: 0 every file done (or nothing to do), 1 some file went to failed/,
# 2 fatal (settings, key, API unreachable: files wait in processing/ for the next run),
# 3 another run still holds the lock, 5 a large send needs assume_yes = true in settings.toml.
# cron mails any output; --quiet keeps success silent.
# Use the full path of syllable-upload (cron's PATH is short). The key comes from a file:
SYLLABLE_API_KEY_FILE=/home/me/.config/syllable-bulk-uploader/prod.key
*/5 * * * * cd ~/syllable-drop && ~/venv/bin/syllable-upload -q --log-file watch.log watch . --once
"""


def _csv_bytes(rows: Sequence[Sequence[str]]) -> bytes:
    """UTF-8 with BOM (Excel then opens accents right), CRLF as Excel writes it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _write_template_xlsx(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"title": "Syllable contacts template", "created": _FIXED_TIME})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet("Contacts")
    sheet.set_column(0, 0, 16, text)
    sheet.set_column(1, 1, 18, text)  # phone as Text: Excel keeps +1... and leading zeros
    sheet.set_column(2, len(TEMPLATE_HEADERS) - 1, 18)
    sheet.write_row(0, 0, TEMPLATE_HEADERS, bold)
    for col, value in enumerate(_EXAMPLE_ROW):
        sheet.write_string(1, col, value, text if col < 2 else None)
    sheet.freeze_panes(1, 0)
    sheet.write_comment(0, 1, "Phone number, ideally +15125550100. Formatted as Text.")
    info = book.add_worksheet("Instructions")
    info.set_column(0, 0, 32)
    info.set_column(1, 1, 100)
    heading = book.add_format({"bold": True, "font_size": 13})
    for row, (left, right) in enumerate(_INSTRUCTIONS):
        is_heading = left in {"How to fill in this template", "Sending it", "Column"}
        info.write_string(row, 0, left, heading if is_heading else None)
        info.write_string(row, 1, right, bold if left == "Column" else None)
    book.close()


# --------------------------------------------------------------------------- samples

_CLEAN = [
    ["reference_id", "target", "first_name", "last_name", "appointment_date", "clinic_name"],
    ["P-1001", "+15125550101", "Maria", "Garcia", "2026-12-14", "Downtown Clinic"],
    ["P-1002", "+15125550102", "James", "Smith", "2026-12-14", "Downtown Clinic"],
    ["P-1003", "+15125550103", "Aiko", "Tanaka", "2026-12-15", "North Clinic"],
    ["P-1004", "+15125550104", "Oluwaseun", "Adeyemi", "2026-12-15", "North Clinic"],
    ["P-1005", "+15125550105", "Chloé", "Dubois", "2026-12-16", "Downtown Clinic"],
    ["P-1006", "+15125550106", "Liam", "O'Brien", "2026-12-16", "South Clinic"],
    ["P-1007", "+15125550107", "Priya", "Patel", "2026-12-17", "South Clinic"],
    ["P-1008", "+15125550108", "Noah", "Müller", "2026-12-17", "North Clinic"],
]

_MESSY_HEADERS = ["Reference ID", "Phone Number", "First Name", "Appointment Date", "Notes"]
# (id, phone as text, phone as Excel number or None, first name, date, notes); None row = blank
_MESSY: list[tuple[str, str, int | None, str, date | None, str] | None] = [
    ("M-001", "(512) 555-0111", None, "Sofia", date(2026, 12, 14), "prefers mornings"),
    ("M-002", "5125550112", 5125550112, "Ethan", date(2026, 12, 14), ""),
    ("M-003", "512.555.0113", None, "José", date(2026, 12, 15), "Spanish, please"),
    ("M-004", "+1 512 555 0114", None, "Grace", date(2026, 12, 15), "Gate code 4410,\nthen left"),
    ("M-005", "", None, "Hannah", date(2026, 12, 15), "no phone on file"),
    ("M-006", "555-0116", None, "Omar", date(2026, 12, 16), "number missing area code"),
    ("M-002", "+15125550117", None, "Lucas", date(2026, 12, 16), "id repeats row 3"),
    None,
    ("M-008", "1-512-555-0118", None, "Zoë", date(2026, 12, 17), ""),
    ("M-009", "+44 20 7946 0958", None, "Oliver", date(2026, 12, 17), "UK number"),
    ("M-010", "15125550120", 15125550120, "Mei", None, "date not booked yet"),
    # Excel shows big numbers as 5.12555E+09 and a CSV saved from it keeps only that (digits
    # lost: refused); the XLSX still holds the whole number (accepted).
    ("M-011", "5.12555E+09", 5125550121, "Ava", date(2026, 12, 18), "saved from Excel"),
]


def _messy_csv_rows() -> list[list[str]]:
    rows = [list(_MESSY_HEADERS)]
    for item in _MESSY:
        if item is None:
            rows.append([""] * len(_MESSY_HEADERS))
            continue
        ref, phone, _number, name, day, notes = item
        rows.append([ref, phone, name, day.strftime("%m/%d/%Y") if day else "", notes])
    return rows


def _contacts_book(path: Path, header: Sequence[str]) -> tuple[xlsxwriter.Workbook, Worksheet]:
    """A sample workbook: one "Contacts" sheet with a bold ``header`` (fixed creation time, so
    the same bytes every time)."""
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": _FIXED_TIME})
    sheet = book.add_worksheet("Contacts")
    sheet.set_column(0, len(header) - 1, 18)
    sheet.write_row(0, 0, header, book.add_format({"bold": True}))
    return book, sheet


def _write_messy_xlsx(path: Path) -> None:
    book, sheet = _contacts_book(path, _MESSY_HEADERS)
    dates = book.add_format({"num_format": "mm/dd/yyyy"})
    row = 1
    for item in _MESSY:
        if item is not None:
            ref, phone, number, name, day, notes = item
            sheet.write_string(row, 0, ref)
            if number is not None:
                sheet.write_number(row, 1, number)  # what Excel does to a typed phone number
            elif phone:
                sheet.write_string(row, 1, phone)
            sheet.write_string(row, 2, name)
            if day is not None:
                sheet.write_datetime(row, 3, datetime(day.year, day.month, day.day), dates)
            if notes:
                sheet.write_string(row, 4, notes)
        row += 1
    book.close()


def _write_clean_xlsx(path: Path) -> None:
    book, sheet = _contacts_book(path, _CLEAN[0])
    text = book.add_format({"num_format": "@"})
    for row, values in enumerate(_CLEAN[1:], start=1):
        for col, value in enumerate(values):
            sheet.write_string(row, col, value, text if col < 2 else None)
    book.close()


def _writer_bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def _text(data: str) -> Callable[[Path], None]:
    return _writer_bytes(data.encode("utf-8"))  # as written: "\n" line ends on every system


#: File name -> writer, for ``templates/``.
TEMPLATE_FILES: dict[str, Callable[[Path], None]] = {
    "contacts-template.xlsx": _write_template_xlsx,
    "contacts-template.csv": _writer_bytes(_csv_bytes([TEMPLATE_HEADERS, _EXAMPLE_ROW])),
    "config.example.toml": _text(_CONFIG_EXAMPLE),
    "settings.example.toml": _text(_SETTINGS_EXAMPLE),
    "mapping.example.toml": _text(_MAPPING_EXAMPLE),
    "crontab.example": _text(_CRONTAB_EXAMPLE),
}

#: File name -> writer, for ``samples/``.
SAMPLE_FILES: dict[str, Callable[[Path], None]] = {
    "contacts-clean.csv": _writer_bytes(_csv_bytes(_CLEAN)),
    "contacts-clean.xlsx": _write_clean_xlsx,
    "contacts-messy.csv": _writer_bytes(_csv_bytes(_messy_csv_rows())),
    "contacts-messy.xlsx": _write_messy_xlsx,
}


def _write(files: dict[str, Callable[[Path], None]], dest: Path, overwrite: bool) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    existing = [dest / name for name in files if (dest / name).exists()]
    if existing and not overwrite:
        names = ", ".join(p.name for p in existing)
        raise ConfigError(f"{dest}: would overwrite {names}; pass --force to replace them")
    written = []
    for name, write in files.items():
        path = dest / name
        write(path)
        written.append(path)
    return written


def write_templates(dest: Path, *, overwrite: bool = False) -> list[Path]:
    """Write the templates (XLSX, CSV, example config/settings/mapping, crontab) into ``dest``."""
    return _write(TEMPLATE_FILES, dest, overwrite)


def write_samples(dest: Path, *, overwrite: bool = False) -> list[Path]:
    """Write the sample contact files (clean and messy, CSV and XLSX) into ``dest``."""
    return _write(SAMPLE_FILES, dest, overwrite)


if __name__ == "__main__":  # python -m uploader.templates [ROOT]: refresh the repository's copies
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path in write_templates(root / "templates", overwrite=True) + write_samples(
        root / "samples", overwrite=True
    ):
        print(path)
