"""The hostile-file writers live beside the tests (``hostile_files``), importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
