"""Header aliases, --map overrides, --exclude, required variables, and the TOML mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest

from uploader.config import ReadOptions
from uploader.errors import ConfigError, InputError
from uploader.mapping import apply_mapping_file, load_mapping_file, resolve_columns


@pytest.mark.parametrize(
    ("headers", "target", "ref"),
    [
        (["Reference ID", "Phone Number", "Name"], "Phone Number", "Reference ID"),
        (["ID", "MOBILE", "Name"], "MOBILE", "ID"),
        (["record_id", "cell-phone", "x"], "cell-phone", "record_id"),
        (["External ID", "contact_number"], "contact_number", "External ID"),
        (["ref", " Telephone "], "Telephone", "ref"),
        (["Mobile", "Phone", "id"], "Phone", "id"),  # "phone" outranks "mobile"
    ],
)
def test_aliases(headers: list[str], target: str, ref: str) -> None:
    mapping = resolve_columns(headers, ReadOptions())
    assert (mapping.target, mapping.reference_id) == (target, ref)
    assert target not in mapping.variables and ref not in mapping.variables


def test_map_override_exclude_and_verbatim_variable_names() -> None:
    headers = ["Member ID", "Mobile", "Home Phone", "First Name ", "SSN", "Appt. Date"]
    options = ReadOptions(
        column_map={"target": "home phone", "reference_id": "Member ID"}, exclude=("ssn",)
    )
    mapping = resolve_columns(headers, options)
    assert mapping.target == "Home Phone"
    assert mapping.reference_id == "Member ID"
    assert mapping.variables == ("Mobile", "First Name", "Appt. Date")


def test_missing_target_and_reference_columns_explain_themselves() -> None:
    with pytest.raises(ConfigError, match=r"no phone-number column.*'Name'.*--map target"):
        resolve_columns(["ID", "Name"], ReadOptions())
    with pytest.raises(ConfigError, match="--generate-reference-ids"):
        resolve_columns(["Phone", "Name"], ReadOptions())
    mapping = resolve_columns(["Phone", "Name"], ReadOptions(generate_reference_ids=True))
    assert mapping.reference_id is None and mapping.generated_reference_ids
    with pytest.raises(ConfigError, match=r"closest header: 'Mobile Phone'"):
        resolve_columns(["ID", "Mobile Phone"], ReadOptions(column_map={"target": "Mobile Phon"}))


def test_duplicate_header_is_an_input_error_unless_excluded() -> None:
    with pytest.raises(InputError, match=r"'Name' appears twice \(columns B and D\)"):
        resolve_columns(["Phone", "Name", "ID", "Name "], ReadOptions())
    mapping = resolve_columns(["Phone", "Name", "ID", "Name "], ReadOptions(exclude=("Name",)))
    assert mapping.variables == ()


def test_required_variable_near_miss_is_named_not_renamed() -> None:
    headers = ["ID", "Phone", "first name", "Last"]
    with pytest.raises(ConfigError, match=r"'First Name' \(closest header: 'first name'"):
        resolve_columns(headers, ReadOptions(require_vars=("First Name",)))
    with pytest.raises(ConfigError, match=r"'Lats' \(closest header: 'Last'\)"):
        resolve_columns(headers, ReadOptions(require_vars=("Lats",)))
    # Trailing spaces in the header are trimmed: the variable is "First Name".
    ok = resolve_columns(["ID", "Phone", "First Name "], ReadOptions(require_vars=("First Name",)))
    assert ok.variables == ("First Name",)


def test_mapping_file_round_trip_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        'exclude = ["SSN"]\nregion = "GB"\nheader_row = 3\ndedupe_targets = true\n'
        '[columns]\ntarget = "Mobile"\nreference_id = "Member ID"\n',
        encoding="utf-8",
    )
    settings = load_mapping_file(path)
    assert settings["target"] == "Mobile" and settings["header_row"] == 3
    options = apply_mapping_file(ReadOptions(), path)
    assert options.column_map == {"target": "Mobile", "reference_id": "Member ID"}
    assert options.exclude == ("SSN",) and options.region == "GB" and options.dedupe_targets
    flags = ReadOptions(region="FR", column_map={"target": "Cell"})
    merged = apply_mapping_file(flags, path)
    assert merged.region == "FR"
    assert merged.column_map == {"target": "Cell", "reference_id": "Member ID"}


def test_mapping_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("regoin = 'US'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'region'"):
        load_mapping_file(bad)
    bad.write_text("header_row = 'three'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="wrong type"):
        load_mapping_file(bad)
    bad.write_text("this is = not toml =\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a valid TOML"):
        load_mapping_file(bad)
    legacy = tmp_path / "legacy.toml"
    legacy.write_text('[map]\ntarget = "Mobile"\n', encoding="utf-8")
    assert load_mapping_file(legacy) == {"target": "Mobile"}
