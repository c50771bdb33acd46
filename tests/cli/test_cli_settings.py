"""Settings resolution: flags > environment > folder settings > profile > defaults, key masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploader.config import DEFAULT_SERVER_URL, ApiKey
from uploader.errors import ConfigError
from uploader.settings import load_config_file, resolve

KEY = "sk-live-0123456789abcdef"


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "contacts.toml").write_text(
        'region = "FR"\nexclude = ["SSN"]\n[columns]\ntarget = "Mobile"\n', encoding="utf-8"
    )
    return write_config(
        tmp_path / "config.toml",
        """
default_profile = "prod"

[profiles.prod]
server_url = "https://prod.example/"
api_key_env = "PROD_KEY"
campaign_id = 42
batch_size = 500
mode = "add"
mapping = "maps/contacts.toml"
large_send_threshold = 100
assume_yes = true
region = "GB"

[profiles.stage]
server_url = "https://stage.example"
api_key_file = "stage.key"
campaign_id = 7
""",
    )


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    resolved = resolve(config_path=None, environ={})
    assert resolved.client.server_url == DEFAULT_SERVER_URL
    assert resolved.client.api_key is None
    assert resolved.upload.campaign_id is None
    assert resolved.upload.batch_size == 10_000
    assert resolved.profile is None
    assert all(row["source"] in {"default", "not set"} for row in resolved.describe())


def test_profile_values_land_in_the_typed_configs(config: Path) -> None:
    resolved = resolve(config_path=config, environ={"PROD_KEY": KEY})
    assert resolved.profile == "prod"
    assert resolved.client.server_url == "https://prod.example"  # trailing slash dropped
    assert resolved.client.api_key == ApiKey(KEY)
    assert resolved.upload.campaign_id == 42
    assert resolved.upload.batch_size == 500
    assert resolved.upload.mode == "add"
    assert resolved.upload.large_send_threshold == 100
    assert resolved.upload.confirmed is True
    assert resolved.read.region == "GB"  # the profile's own value beats its mapping file
    assert resolved.mapping_file == config.parent / "maps" / "contacts.toml"
    assert resolved.read.column_map == {"target": "Mobile"}  # filled in from the mapping file
    assert resolved.read.exclude == ("SSN",)
    assert resolved.sources["campaign_id"] == f"profile prod ({config})"
    assert resolved.sources["api_key"] == f"profile prod ({config}): env PROD_KEY"


def test_environment_beats_profile_and_flags_beat_environment(config: Path) -> None:
    environ = {
        "PROD_KEY": KEY,
        "SYLLABLE_CAMPAIGN_ID": "43",
        "SYLLABLE_SERVER_URL": "https://env.example",
        "SYLLABLE_API_KEY": "env-key-0000000000000",
    }
    resolved = resolve(config_path=config, environ=environ)
    assert resolved.upload.campaign_id == 43
    assert resolved.sources["campaign_id"] == "env SYLLABLE_CAMPAIGN_ID"
    assert resolved.client.server_url == "https://env.example"
    assert resolved.client.api_key == ApiKey("env-key-0000000000000")
    assert resolved.sources["api_key"] == "env SYLLABLE_API_KEY"

    flagged = resolve(
        config_path=config,
        environ=environ,
        flags={"campaign_id": 44, "server_url": "http://flag.example", "batch_size": None},
    )
    assert flagged.upload.campaign_id == 44
    assert flagged.client.server_url == "http://flag.example"
    assert flagged.sources["campaign_id"] == "flag"
    assert flagged.upload.batch_size == 500  # None means "not given": the profile still counts


def test_folder_settings_sit_between_profile_and_environment(config: Path, tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "m.toml").write_text("[columns]\ntarget = 'Cell'\n", encoding="utf-8")
    folder = {"campaign_id": 9, "mapping": "m.toml", "batch_size": 50}
    resolved = resolve(
        config_path=config,
        environ={"PROD_KEY": KEY, "SYLLABLE_CAMPAIGN_ID": "11"},
        folder_settings=folder,
        folder_label="drop",
        folder_dir=tmp_path / "drop",
    )
    assert resolved.upload.batch_size == 50
    assert resolved.sources["batch_size"] == "drop"
    assert resolved.mapping_file == tmp_path / "drop" / "m.toml"
    assert resolved.upload.campaign_id == 11  # environment still wins over the folder


def test_named_profile_and_key_file_relative_to_config(config: Path) -> None:
    (config.parent / "stage.key").write_text(KEY + "\n", encoding="utf-8")
    resolved = resolve(config_path=config, profile="stage", environ={})
    assert resolved.client.api_key == ApiKey(KEY)
    assert resolved.upload.campaign_id == 7
    assert resolved.upload.batch_size == 10_000
    assert "stage.key" in resolved.sources["api_key"]


def test_key_flag_file_beats_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_text("flag-key-123456789", encoding="utf-8")
    resolved = resolve(
        environ={"SYLLABLE_API_KEY": KEY}, flags={"api_key_file": key_file}, config_path=None
    )
    assert resolved.client.api_key == ApiKey("flag-key-123456789")
    assert resolved.sources["api_key"].startswith("flag --api-key-file")


def test_the_key_is_masked_everywhere_it_is_described(config: Path) -> None:
    resolved = resolve(config_path=config, environ={"PROD_KEY": KEY})
    text = repr(resolved) + str(resolved.describe())
    assert KEY not in text
    row = next(r for r in resolved.describe() if r["setting"] == "api_key")
    assert row["value"] == ApiKey(KEY).masked()


def test_missing_key_names_the_variable_the_profile_points_at(config: Path) -> None:
    resolved = resolve(config_path=config, environ={})
    assert resolved.client.api_key is None
    with pytest.raises(ConfigError, match="PROD_KEY"):
        resolved.require_api_key()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[profiles.a]\napi_key = "sk-123"\n', "does not belong"),
        ("[profiles.a]\ncampain_id = 3\n", "did you mean 'campaign_id'"),
        ("[profiles.a]\ncampaign_id = 'seven'\n", "campaign_id = 'seven': expected a whole"),
        ("[profiles.a]\nmode = 'fast'\n", "expected 'upload' or 'add'"),
        ('default_profile = "b"\n[profiles.a]\n', "no [profiles.b] table"),
        ("campaign_id = 3\n", "unknown top-level key"),
        ("[profiles.a\n", "not valid TOML"),
    ],
)
def test_bad_config_files_fail_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_config(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as info:
        resolve(config_path=path, profile="a", environ={})
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_profile_lists_the_known_ones(config: Path) -> None:
    with pytest.raises(ConfigError, match=r"profile 'nope' not found .*prod, stage"):
        resolve(config_path=config, profile="nope", environ={})


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(config_path=tmp_path / "missing.toml", environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="env SYLLABLE_CAMPAIGN_ID"):
        resolve(environ={"SYLLABLE_CAMPAIGN_ID": "abc"}, config_path=None)


def test_read_flags_in_click_shapes() -> None:
    resolved = resolve(
        config_path=None,
        environ={},
        flags={
            "column_map": ("target=Mobile", "reference_id=Member ID"),
            "exclude": ("SSN",),
            "require_vars": "first_name, appointment_date",
            "sheet": "2",
            "header_row": 3,
            "dedupe_targets": True,
            "generate_reference_ids": None,
            "insecure": True,
            "yes": True,
            "as_json": True,  # not a setting: ignored
        },
    )
    assert resolved.read.column_map == {"target": "Mobile", "reference_id": "Member ID"}
    assert resolved.read.exclude == ("SSN",)
    assert resolved.read.require_vars == ("first_name", "appointment_date")
    assert resolved.read.sheet == 2
    assert resolved.read.header_row == 3
    assert resolved.read.dedupe_targets is True
    assert resolved.read.generate_reference_ids is False
    assert resolved.client.verify_tls is False
    assert resolved.upload.confirmed is True


def test_shipped_example_config_parses() -> None:
    root = Path(__file__).resolve().parents[2]
    data = load_config_file(root / "templates" / "config.example.toml")
    assert set(data["profiles"]) == {"production", "staging", "local"}


@given(
    profile_value=st.integers(min_value=1, max_value=10**6),
    env_value=st.none() | st.integers(min_value=1, max_value=10**6),
    flag_value=st.none() | st.integers(min_value=1, max_value=10**6),
)
def test_precedence_holds_for_any_combination(
    profile_value: int, env_value: int | None, flag_value: int | None
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_config(
            Path(tmp) / "c.toml", f"[profiles.default]\ncampaign_id = {profile_value}\n"
        )
        environ = {} if env_value is None else {"SYLLABLE_CAMPAIGN_ID": str(env_value)}
        resolved = resolve(config_path=path, environ=environ, flags={"campaign_id": flag_value})
    expected = next(v for v in (flag_value, env_value, profile_value) if v is not None)
    assert resolved.upload.campaign_id == expected
