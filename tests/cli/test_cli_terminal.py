"""A real pseudo terminal (pexpect): progress bars render; piped, they are absent.

Plus the promise that ``pip install .`` (not editable) gives a working ``syllable-upload``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import venv
from pathlib import Path

import pexpect
import pytest

from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[2]
BAR = "━"  # rich's bar character


def contacts(path: Path, rows: int = 20_000) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference_id", "phone", "first_name"])
        for i in range(rows):
            writer.writerow([f"id-{i}", f"+1512555{i % 10_000:04d}", f"name {i}"])
    return path


def terminal_env(tmp_path: Path) -> dict[str, str]:
    """A colour terminal 120 columns wide, with no key or settings of the developer's."""
    env = child_env(XDG_CONFIG_HOME=str(tmp_path / "cfg"), TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR", None)
    return env


def test_progress_bars_render_in_a_pseudo_terminal(tmp_path: Path) -> None:
    file = contacts(tmp_path / "contacts.csv")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "uploader", "validate", str(file)],
        env=terminal_env(tmp_path),
        cwd=str(tmp_path),
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=120,
    )
    child.expect(pexpect.EOF)
    child.close()
    text = child.before
    assert child.exitstatus == 0, text
    assert "Traceback" not in text
    assert "Validating" in text
    assert BAR in text
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "20,000" in text or "20000" in text


def test_no_progress_display_when_piped(tmp_path: Path) -> None:
    file = contacts(tmp_path / "contacts.csv")
    done = subprocess.run(
        [sys.executable, "-m", "uploader", "validate", str(file)],
        env=terminal_env(tmp_path),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr
    for stream in (done.stdout, done.stderr):
        assert "\x1b[" not in stream
        assert BAR not in stream
    assert "Validating: 20,000/20,000 (100%)" in done.stderr  # a plain line for logs
    assert "20000 rows read" in done.stdout.replace(",", "")

    quiet = subprocess.run(
        [sys.executable, "-m", "uploader", "-q", "validate", str(file)],
        env=terminal_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert quiet.stdout == ""
    assert "Validating" not in quiet.stderr


@pytest.mark.slow
def test_non_editable_install_in_a_fresh_venv(tmp_path: Path) -> None:
    """``pip install .`` (a real wheel build, not editable) gives a working console script.

    The project's dependencies are borrowed from this environment through a .pth file (so the
    test needs no download of pandas & co.); the build itself is pip's ordinary isolated build.
    """
    import sysconfig

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "borrowed-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    build = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    script = env_dir / "bin" / "syllable-upload"
    env = terminal_env(tmp_path)
    away = tmp_path / "elsewhere"
    away.mkdir()
    done = subprocess.run(
        [str(script), "--help"], cwd=away, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in ("validate", "upload", "results", "demo", "watch", "template", "batches"):
        assert command in done.stdout
    # the installed package is the copy in the venv, not this checkout
    where = subprocess.run(
        [str(python), "-c", "import uploader; print(uploader.__file__)"],
        cwd=away,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(env_dir) in where
    made = subprocess.run(
        [str(script), "template", "t", "--samples"],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert (away / "t" / "contacts-template.xlsx").exists()
    demo = subprocess.run(
        [str(script), "demo", "--out", "demo-out"],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "nothing left this machine" in demo.stdout
    assert list((away / "demo-out" / "reports").glob("*.xlsx"))
