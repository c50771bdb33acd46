"""``syllable-upload emulator``: flags reach the server, bad flags are clear one-line errors."""

from __future__ import annotations

import httpx
import pytest

from uploader.cli import main
from uploader.emulator import API_PREFIX, DEMO_API_KEY


def test_flags_set_keys_and_faults_of_a_real_process(emulator_process) -> None:
    proc = emulator_process(
        "--api-key",
        "k-one",
        "--api-key",
        "k-two",
        "--error-rate",
        "1",
        "--seed",
        "5",
        api_key="k-one",
    )
    assert any("emulator ready at http://127.0.0.1:" in line for line in proc.output)
    assert not any("k-one" in line for line in proc.output)  # keys are never printed
    faults = proc.faults()
    assert faults["error_rate"] == 1.0
    for key, expected in (("k-one", {500, 502, 503, 504}), ("k-two", {500, 502, 503, 504})):
        response = httpx.get(proc.url + API_PREFIX, headers={"Syllable-API-Key": key})
        assert response.status_code in expected
    proc.clear_faults()
    assert httpx.get(proc.url + API_PREFIX, headers={"Syllable-API-Key": "k-two"}).is_success
    refused = httpx.get(proc.url + API_PREFIX, headers={"Syllable-API-Key": DEMO_API_KEY})
    assert refused.status_code == 403


def test_a_busy_port_is_a_one_line_error(emulator, capsys) -> None:  # type: ignore[no-untyped-def]
    port = emulator.url.rsplit(":", 1)[1]
    assert main(["emulator", "--port", port]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-rate", "2"], "--error-rate"),
        (["--error-rate", "0.6", "--drop-rate", "0.6"], "add up to"),
        (["--time-scale", "0"], "--time-scale"),
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], message: str, capsys) -> None:
    assert main(["emulator", *args]) == 2
    assert message in capsys.readouterr().err


def test_help_documents_every_flag(capsys) -> None:
    assert main(["emulator", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--api-key",
        "--db",
        "--latency-ms",
        "--latency-jitter-ms",
        "--error-rate",
        "--rate-429",
        "--drop-rate",
        "--ambiguous-rate",
        "--rate-limit",
        "--time-scale",
        "--seed",
    ):
        assert flag in text
