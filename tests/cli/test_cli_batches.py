"""``batches`` and ``remove`` against the emulator over HTTP, through the real CLI entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.models import CommunicationRequest


@pytest.fixture
def server(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> SyllableClient:
    """Point the CLI at the emulator through the environment; return a client for setup."""
    monkeypatch.setenv("SYLLABLE_SERVER_URL", emulator.url)
    monkeypatch.setenv("SYLLABLE_API_KEY", emulator.api_key)
    client = SyllableClient(ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key)))
    yield client
    client.close()


def make_batch(client: SyllableClient, batch_id: str, n: int = 3, campaign: int = 7) -> None:
    client.create_batch(batch_id, campaign, paused=True)
    for i in range(n):
        client.add_request(
            batch_id, CommunicationRequest(f"r{i}", f"+1512555010{i}", {"first_name": f"N{i}"})
        )


def test_list_and_show(run_cli, server: SyllableClient) -> None:
    make_batch(server, "alpha", campaign=7)
    make_batch(server, "beta", campaign=8)
    code, out, err = run_cli("batches", "list", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {item["batch_id"] for item in data["items"]} == {"alpha", "beta"}
    assert data["total_count"] == 2

    code, out, _ = run_cli("batches", "list", "--campaign-id", "8")
    assert code == 0
    assert "beta" in out
    assert "alpha" not in out
    assert "1 shown of 1" in out

    code, out, _ = run_cli("batches", "show", "alpha", "--json")
    assert code == 0
    batch = json.loads(out)
    assert batch["batch_id"] == "alpha"
    assert sum(batch["status_counts"].values()) == 3

    code, out, _ = run_cli("batches", "show", "alpha")
    assert out.startswith("batch alpha\n")
    assert "campaign_id:" in out


def test_pause_resume_update(run_cli, server: SyllableClient) -> None:
    make_batch(server, "gamma")
    code, out, _ = run_cli("batches", "resume", "gamma", "--json")
    assert code == 0
    assert json.loads(out)["batches"][0]["paused"] is False
    assert server.get_batch("gamma")["paused"] is False

    code, out, _ = run_cli("batches", "pause", "gamma")
    assert code == 0
    assert "(paused)" in out
    assert server.get_batch("gamma")["paused"] is True

    code, out, _ = run_cli("batches", "update", "gamma", "--expires-on", "2030-01-31", "--json")
    assert code == 0
    assert json.loads(out)["expires_on"].startswith("2030-01-31")

    code, _, err = run_cli("batches", "update", "gamma")
    assert code == 2
    assert "nothing to change" in err


def test_delete_needs_yes_off_a_terminal(run_cli, server: SyllableClient) -> None:
    make_batch(server, "delta")
    code, _, err = run_cli("batches", "delete", "delta", "--reason", "wrong list")
    assert code == 5  # not confirmed
    assert "--yes" in err
    assert not server.get_batch("delta").get("deleted_at")

    code, _, err = run_cli("batches", "delete", "delta", "--reason", "wrong list", "--yes")
    assert code == 0, err
    assert server.get_batch("delta").get("deleted_at")


def test_remove_from_arguments_and_from_a_file(
    run_cli, server: SyllableClient, tmp_path: Path
) -> None:
    make_batch(server, "eps", n=4)
    code, out, err = run_cli("remove", "eps", "r0", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["reference_ids"] == ["r0"]
    remaining = {r["reference_id"] for r in server.results("eps")}
    assert "r0" not in remaining

    opt_outs = tmp_path / "opt-outs.csv"
    with opt_outs.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["Name", "Member ID"], ["a", "r1"], ["b", ""], ["c", "r2"]])
    code, out, err = run_cli(
        "remove", "eps", "--from", opt_outs, "--column", "member id", "--yes", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["reference_ids"] == ["r1", "r2"]
    assert {r["reference_id"] for r in server.results("eps")} == {"r3"}

    code, _, err = run_cli("remove", "eps", "--from", opt_outs, "--column", "Nope", "--yes")
    assert code == 2
    assert "no column 'Nope'" in err


def test_unknown_batch_and_bad_key_exit_2_without_leaking_the_key(
    run_cli, server: SyllableClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli("batches", "show", "no-such-batch")
    assert code == 2
    assert out == ""
    assert "Traceback" not in err

    secret = "sk-wrong-key-0123456789"
    monkeypatch.setenv("SYLLABLE_API_KEY", secret)
    code, out, err = run_cli("batches", "list")
    assert code == 2
    assert secret not in out + err


def test_remove_finds_the_id_column_like_upload_does(
    run_cli, server: SyllableClient, tmp_path: Path
) -> None:
    make_batch(server, "zeta", n=3)
    sheet = tmp_path / "out.csv"
    sheet.write_text("Phone,Reference ID\n+15125550100,r0\n+15125550102,r2\n", encoding="utf-8")
    code, out, err = run_cli("remove", "zeta", "--from", sheet, "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["reference_ids"] == ["r0", "r2"]
    assert {r["reference_id"] for r in server.results("zeta")} == {"r1"}
