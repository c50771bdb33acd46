"""``config show`` and ``template`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uploader.config import ApiKey

KEY = "sk-test-abcdefghijklmnop"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[profiles.default]\nserver_url = "https://profile.example"\ncampaign_id = 5\n'
        'api_key_env = "MY_KEY"\nbatch_size = 250\n'
        "[profiles.other]\ncampaign_id = 6\n",
        encoding="utf-8",
    )
    return path


def test_config_show_json_shape_and_sources(
    run_cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    monkeypatch.setenv("SYLLABLE_SERVER_URL", "https://env.example")
    code, out, err = run_cli("--config", config, "config", "show", "--campaign-id", "8", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"config_file", "config_file_found", "profile", "settings"}
    assert data["config_file"] == str(config)
    assert data["config_file_found"] is True
    assert data["profile"] == "default"
    settings = data["settings"]
    assert settings["campaign_id"] == {"value": "8", "source": "flag"}
    assert settings["server_url"] == {
        "value": "https://env.example",
        "source": "env SYLLABLE_SERVER_URL",
    }
    assert settings["batch_size"]["value"] == "250"
    assert settings["batch_size"]["source"].startswith("profile default")
    assert settings["concurrency"]["source"] == "default"
    assert settings["api_key"]["value"] == ApiKey(KEY).masked()
    assert "env MY_KEY" in settings["api_key"]["source"]
    assert KEY not in out + err


def test_config_show_text_masks_the_key(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYLLABLE_API_KEY", KEY)
    code, out, err = run_cli("config", "show")
    assert code == 0
    assert "not found: using defaults" in out
    assert ApiKey(KEY).masked() in out
    assert KEY not in out + err
    line = next(line for line in out.splitlines() if line.startswith("api_key "))
    assert line.rstrip().endswith("env SYLLABLE_API_KEY")


def test_config_show_profile_switch_via_environment(
    run_cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYLLABLE_UPLOAD_CONFIG", str(config))
    monkeypatch.setenv("SYLLABLE_PROFILE", "other")
    code, out, _ = run_cli("config", "show", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["profile"] == "other"
    assert data["settings"]["campaign_id"]["value"] == "6"


def test_config_errors_exit_2_with_one_line(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[profiles.default]\ncampaign_id = 'x'\n", encoding="utf-8")
    code, out, err = run_cli("--config", bad, "config", "show")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "campaign_id" in err
    assert "Traceback" not in err

    code, _, err = run_cli("--profile", "ghost", "config", "show")
    assert code == 2
    assert "profile 'ghost' not found" in err


def test_quiet_config_show_prints_nothing_but_json_still_prints(run_cli) -> None:
    code, out, err = run_cli("--quiet", "config", "show")
    assert (code, out, err) == (0, "", "")
    code, out, _ = run_cli("--quiet", "config", "show", "--json")
    assert code == 0
    assert json.loads(out)["settings"]["server_url"]["source"] == "default"


def test_template_writes_every_file_and_refuses_to_overwrite(run_cli, tmp_path: Path) -> None:
    dest = tmp_path / "t"
    code, out, err = run_cli("template", dest, "--json")
    assert code == 0, err
    files = json.loads(out)["files"]
    assert sorted(Path(f).name for f in files) == sorted(
        [
            "contacts-template.xlsx",
            "contacts-template.csv",
            "config.example.toml",
            "settings.example.toml",
            "mapping.example.toml",
            "crontab.example",
        ]
    )
    assert all(Path(f).stat().st_size > 0 for f in files)

    code, out, err = run_cli("template", dest)
    assert code == 2
    assert "--force" in err

    code, out, _ = run_cli("template", dest, "--force", "--samples")
    assert code == 0
    assert (dest / "contacts-messy.xlsx").exists()
    assert out.count("wrote ") == 10


def test_quiet_template_is_silent(run_cli, tmp_path: Path) -> None:
    assert run_cli("-q", "template", tmp_path / "q") == (0, "", "")
    assert (tmp_path / "q" / "contacts-template.csv").exists()


def test_config_init_writes_a_working_example(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    code, out, err = run_cli("--config", path, "config", "init")
    assert code == 0, err
    assert path.exists()
    code, out, err = run_cli("--config", path, "config", "show", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["profile"] == "production"
    assert data["settings"]["campaign_id"]["value"] == "42"
    assert "SYLLABLE_PROD_KEY" in data["settings"]["api_key"]["source"]  # named, not set
    code, _, err = run_cli("--config", path, "config", "init")
    assert code == 2
    assert "--force" in err


def test_config_init_default_location(run_cli, tmp_path: Path) -> None:
    code, out, _ = run_cli("config", "init")
    assert code == 0
    assert "config.toml" in out
    assert (tmp_path / "xdg-config" / "syllable-bulk-uploader" / "config.toml").exists()
