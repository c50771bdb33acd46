"""Small helpers several test areas import (the fixtures built on them live in tests/conftest.py).

Import as ``from tests.helpers import ...``: pytest's importlib mode resolves ``tests`` from the
rootdir, and ``python -m pytest`` (CI) has the checkout on ``sys.path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["RunCli", "child_env"]

RunCli = Callable[..., tuple[int, str, str]]
"""The ``run_cli`` fixture: ``run_cli("plan", file, ...)`` -> (exit code, stdout, stderr)."""


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without SYLLABLE_* variables, plus ``extra``.

    A child ``python -m uploader`` then sees only the key and settings the test gives it, never
    the developer's own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYLLABLE_")}
    env.update(extra)
    return env
