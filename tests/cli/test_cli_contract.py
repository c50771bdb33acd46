"""The output contract every command keeps: one JSON object with --json, nothing with -q,
summary on stdout and diagnostics on stderr, exit codes from the one table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.models import CommunicationRequest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def one_json_object(out: str) -> dict[str, Any]:
    assert out.count("\n") == 1 and out.endswith("\n"), f"not one line: {out!r}"
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("sample", "code", "valid", "refused"),
    [("contacts-clean.csv", 0, 8, 0), ("contacts-messy.xlsx", 1, 8, 3)],
)
def test_validate_json_quiet_and_exit_codes(
    run_cli, sample: str, code: int, valid: int, refused: int
) -> None:
    got, out, err = run_cli("validate", SAMPLES / sample, "--json")
    assert got == code
    data = one_json_object(out)
    assert (data["valid"], data["refused"]) == (valid, refused)
    assert "Validating" in err  # progress (plain lines: not a terminal) went to stderr

    assert run_cli("-q", "validate", SAMPLES / sample) == (code, "", "")
    got, out, _ = run_cli("-q", "validate", SAMPLES / sample, "--json")
    assert got == code
    assert one_json_object(out)["rows_read"] in (8, 12)


def test_unreadable_input_is_one_line_exit_2(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "contacts.xlsx"
    bad.write_bytes(b"not a zip")
    code, out, err = run_cli("validate", bad)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "contacts.xlsx" in err
    code, out, err = run_cli("validate", tmp_path / "missing.csv")
    assert code == 2
    assert "Traceback" not in err


def test_usage_errors_exit_2(run_cli) -> None:
    code, _, err = run_cli("no-such-command")
    assert code == 2
    assert "No such command" in err
    code, _, err = run_cli("batches", "show")
    assert code == 2
    assert "Missing argument" in err


def test_results_json_and_quiet(
    run_cli, emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYLLABLE_SERVER_URL", emulator.url)
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    config = ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key))
    with SyllableClient(config) as client:
        client.create_batch("res-1", 3)
        client.add_request("res-1", CommunicationRequest("a", "+15125550101"))
    code, out, err = run_cli("results", "--batch-id", "res-1", "--json")
    assert code in (0, 1), err
    data = one_json_object(out)
    assert data["batch_ids"] == ["res-1"]
    report = tmp_path / "r.csv"
    code, out, err = run_cli("-q", "results", "--batch-id", "res-1", "--report", report)
    assert out == ""
    assert report.exists()


def test_upload_json_quiet_rerun_and_exit_codes(
    run_cli, emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYLLABLE_SERVER_URL", emulator.url)
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    journal = tmp_path / "j.sqlite"
    args = ("upload", SAMPLES / "contacts-messy.xlsx", "--campaign-id", "4", "--journal", journal)
    code, out, err = run_cli(*args, "--json")
    assert code == 1, err  # some rows refused
    first = one_json_object(out)
    assert first["counts"]["accepted"] == 8
    assert first["counts"]["refused"] == 3
    assert emulator.api_key not in out + err

    code, out, err = run_cli("-q", *args)  # rerun: nothing sent, nothing printed
    assert (code, out) == (1, "")
    code, out, _ = run_cli(*args, "--json")
    assert one_json_object(out)["counts"] == first["counts"]
    received = [
        seen["received"] for reqs in emulator.stats()["requests"].values() for seen in reqs.values()
    ]
    assert received == [1] * 8

    code, out, _ = run_cli(
        "-q", "upload", SAMPLES / "contacts-clean.csv", "--campaign-id", "4", "--journal",
        tmp_path / "k.sqlite",
    )  # fmt: skip
    assert (code, out) == (0, "")


def test_upload_without_a_key_is_a_config_error(run_cli, tmp_path: Path) -> None:
    code, out, err = run_cli(
        "upload", SAMPLES / "contacts-clean.csv", "--campaign-id", "4", "--server-url",
        "http://127.0.0.1:9", "--journal", tmp_path / "j.sqlite",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert "API key" in err
