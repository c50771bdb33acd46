"""Required variables: rows without them are refused by name; missing headers stop the run early
with the closest header suggested; near misses are reported, never renamed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.features.conftest import phone, received, write_csv
from tests.helpers import RunCli
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig, ReadOptions
from uploader.emulator import EmulatorHandle
from uploader.errors import ConfigError
from uploader.validation import validate

REQUIRED = "first_name,appointment_date"


def test_rows_missing_a_required_variable_are_refused_by_name(
    tmp_path: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    file = tmp_path / "c.csv"
    file.write_text(
        "reference_id,phone,first_name,appointment_date\n"
        f"r1,{phone(1)},Ann,2026-12-01\n"
        f"r2,{phone(2)},,2026-12-02\n"  # empty first_name
        f"r3,{phone(3)},Cyd,   \n"  # blank appointment_date
        f"r4,{phone(4)},Dee\n"  # the cell is missing altogether
        f"r5,{phone(5)},Eve,2026-12-05\n",
        encoding="utf-8",
    )
    result = validate(file, ReadOptions(require_vars=("first_name", "appointment_date")))
    problems = {(i.row_number, i.code, i.column) for i in result.issues}
    assert problems == {
        (3, "missing_variable", "first_name"),
        (4, "missing_variable", "appointment_date"),
        (5, "missing_variable", "appointment_date"),
    }
    assert all(i.column in i.message for i in result.issues)
    code, out, err = run_cli(
        "upload", file, *server_args, "--campaign-id", 1, "--mode", "add",
        "--require-vars", REQUIRED, "--json",
    )  # fmt: skip
    assert code == 1, out + err
    assert json.loads(out)["counts"]["refused"] == 3
    assert sorted(r.split("/")[1] for r in received(emulator)) == ["r1", "r5"]


@pytest.mark.parametrize(
    ("header", "hint"),
    [
        ("First Name ", "'First Name'"),  # trailing space and another spelling
        ("First_Name", "'First_Name'; names must match exactly"),  # only the case differs
        ("fist_name", "'fist_name'"),  # a typo
    ],
)
def test_a_missing_required_header_stops_before_sending_and_suggests(
    tmp_path: Path,
    run_cli: RunCli,
    server_args: list[str],
    emulator: EmulatorHandle,
    header: str,
    hint: str,
) -> None:
    file = write_csv(
        tmp_path / "c.csv",
        ["reference_id", "phone", header, "appointment_date"],
        [["r1", phone(1), "Ann", "2026-12-01"]],
    )
    code, out, err = run_cli(
        "upload", file, *server_args, "--campaign-id", 1, "--require-vars", REQUIRED
    )
    assert code == 2, out + err
    assert "required variable 'first_name'" in err
    assert f"closest header: {hint}" in err
    assert received(emulator) == {} and emulator.stats()["requests"] == {}
    with pytest.raises(ConfigError):  # reported, never silently renamed
        validate(file, ReadOptions(require_vars=("first_name",)))


def test_header_keys_are_trimmed_and_sent_as_the_trimmed_name(
    tmp_path: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    file = write_csv(
        tmp_path / "c.csv",
        ["reference_id", "phone", "  first_name ", "appointment_date "],
        [["r1", phone(1), "Ann", "2026-12-01"]],
    )
    code, out, err = run_cli(
        "upload", file, *server_args, "--campaign-id", 1, "--mode", "add",
        "--batch-id", "b1", "--require-vars", REQUIRED,
    )  # fmt: skip
    assert code == 0, out + err
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    with SyllableClient(config) as api:
        (held,) = api.results("b1")
    assert held["request_variables"] == {"first_name": "Ann", "appointment_date": "2026-12-01"}


def test_required_variables_from_the_mapping_file(
    tmp_path: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('require_vars = ["first_name"]\n', encoding="utf-8")
    file = write_csv(
        tmp_path / "c.csv",
        ["reference_id", "phone", "first_name"],
        [["r1", phone(1), "Ann"], ["r2", phone(2), ""]],
    )
    code, out, err = run_cli(
        "upload", file, *server_args, "--campaign-id", 1, "--mode", "add",
        "--mapping", mapping, "--json",
    )  # fmt: skip
    assert code == 1, out + err
    assert json.loads(out)["counts"] == {
        "accepted": 1, "refused": 1, "rejected": 0, "failed": 0, "pending": 0, "blank": 0,
    }  # fmt: skip
    assert [key.split("/")[1] for key in received(emulator)] == ["r1"]


def test_a_look_alike_beside_the_required_column_is_reported_not_renamed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "c.csv"
    file.write_text(
        f"reference_id,phone,first_name,First Name\nr1,{phone(1)},Ann,Annie\n", encoding="utf-8"
    )
    with caplog.at_level("WARNING", logger="uploader"):
        # a required name given with stray spaces is read as the trimmed name
        result = validate(file, ReadOptions(require_vars=(" first_name ",)))
    assert list(result.statuses) == ["valid"]
    variables = result.records[0].request.request_variables
    assert variables == {"first_name": "Ann", "First Name": "Annie"}
    assert any(
        "'First Name' differs from the required variable 'first_name'" in r.getMessage()
        for r in caplog.records
    )
