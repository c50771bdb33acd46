"""Chaos suite plumbing: helpers importable by name, and the tally printed at the end of the run.

The tally line is printed in the terminal summary (visible with or without ``-s``) and written to
``bench/out/chaos_tally.txt`` and to pytest's base temporary folder, for the notes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaos_helpers import TALLY

_REPO = Path(__file__).resolve().parents[2]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not TALLY.trials:
        return
    line = TALLY.line()
    terminalreporter.write_sep("=", "chaos tally")
    terminalreporter.write_line(line)
    out = _REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chaos_tally.txt").write_text(line + "\n", encoding="utf-8")
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        (factory.getbasetemp() / "chaos_tally.txt").write_text(line + "\n", encoding="utf-8")
