"""CLI tests run with a clean environment: no user config file, no SYLLABLE_* variables.

``clean_env`` and ``run_cli`` come from tests/conftest.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_env(clean_env: None) -> None:
    """Every test in this folder runs in :func:`tests.conftest.clean_env`."""
