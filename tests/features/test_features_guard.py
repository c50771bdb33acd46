"""Large-send guard: above large_send_threshold a terminal run asks (with counts per batch), a run
without a terminal needs --yes or assume_yes and says so; nothing is sent without a yes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.features.conftest import received, write_contacts
from tests.helpers import RunCli, child_env
from uploader.config import ApiKey, ClientConfig, UploadOptions
from uploader.emulator import EmulatorHandle
from uploader.engine import upload
from uploader.errors import ConfirmationRequired

ROWS = 10


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    return write_contacts(tmp_path / "contacts.csv", range(ROWS))


def _config(tmp_path: Path, **settings: Any) -> Path:
    lines = ["[profiles.default]"] + [f"{k} = {str(v).lower()}" for k, v in settings.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def upload_with(contacts: Path, tmp_path: Path, run_cli: RunCli, server_args: list[str]) -> RunCli:
    """``upload_with({"large_send_threshold": 5}, "--yes")``: upload ``contacts`` through main
    with those profile settings (and extra flags), no terminal attached."""

    def run(settings: dict[str, Any], *extra: object) -> tuple[int, str, str]:
        config = _config(tmp_path, **settings)
        return run_cli(
            "--config", config, "upload", contacts, *server_args, "--campaign-id", 1, *extra
        )

    return run


def test_without_a_terminal_a_large_send_needs_yes(
    upload_with: RunCli, emulator: EmulatorHandle
) -> None:
    code, out, err = upload_with({"large_send_threshold": 5})
    assert code == 5, out + err
    assert "--yes" in err and "not a terminal" in err and "10 rows" in err
    assert received(emulator) == {}
    code, out, err = upload_with({"large_send_threshold": 5}, "--yes")
    assert code == 0, out + err
    assert len(received(emulator)) == ROWS


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"large_send_threshold": 5, "assume_yes": True}, id="assume-yes-in-profile"),
        pytest.param({"large_send_threshold": ROWS}, id="at-the-threshold"),
    ],
)
def test_unattended_run_goes_ahead_without_yes(
    settings: dict[str, Any],
    upload_with: RunCli,
    emulator: EmulatorHandle,
) -> None:
    """assume_yes in the profile confirms; at or below the threshold nobody is asked."""
    code, out, err = upload_with(settings)
    assert code == 0, out + err
    assert len(received(emulator)) == ROWS


def test_library_confirm_callback_sees_counts_per_batch(
    contacts: Path, tmp_path: Path, emulator: EmulatorHandle
) -> None:
    client = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    options = UploadOptions(
        campaign_id=1, batch_size=4, large_send_threshold=5, journal_path=tmp_path / "j.sqlite"
    )
    asked: list[dict[str, Any]] = []

    def say(answer: bool) -> Any:
        def confirm(summary: dict[str, Any]) -> bool:
            asked.append(summary)
            return answer

        return confirm

    with pytest.raises(ConfirmationRequired, match="not confirmed"):
        upload(contacts, None, options, client, confirm=say(False))
    assert received(emulator) == {}
    assert [b["rows"] for b in asked[0]["batches"]] == [4, 4, 2]
    assert asked[0]["rows"] == ROWS and asked[0]["threshold"] == 5
    result = upload(contacts, None, options, client, confirm=say(True))
    assert result.counts["accepted"] == ROWS
    with pytest.raises(ConfirmationRequired, match="--yes"):
        upload(contacts, None, UploadOptions(campaign_id=2, large_send_threshold=5), client)


@pytest.mark.slow  # two real processes on a pseudo terminal
def test_a_terminal_run_asks_with_counts_per_batch(
    contacts: Path, tmp_path: Path, emulator_process: Any
) -> None:
    server = emulator_process()
    config = _config(tmp_path, large_send_threshold=5)
    env = child_env(
        SYLLABLE_API_KEY=server.api_key,
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "cfg"),
        TERM="xterm-256color",
    )
    args = ["-m", "uploader", "--config", str(config), "upload", str(contacts),
            "--server-url", server.url, "--campaign-id", "1", "--batch-size", "4"]  # fmt: skip

    def ask(answer: str) -> tuple[int, str]:
        child = pexpect.spawn(
            sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=60
        )
        child.expect("Large send: 10 rows")
        child.expect(r"-003: 2 rows")
        child.expect(r"\[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return int(child.exitstatus), str(child.before)

    code, text = ask("n")
    assert code == 5, text
    assert server.stats()["requests"] == {}
    code, text = ask("y")
    assert code == 0, text
    held = server.stats()["requests"]
    assert sum(len(refs) for refs in held.values()) == ROWS
