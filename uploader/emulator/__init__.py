"""A local emulator of the Syllable outbound-batches API, with seeded faults on demand.

Every test, benchmark and the demo run against it instead of the real service::

    from uploader.emulator import running_emulator, EmulatorSettings, DEMO_API_KEY

    with running_emulator(EmulatorSettings(time_scale=1000, seed=7)) as emu:
        emu.url                       # "http://127.0.0.1:PORT"
        emu.api_key                   # a key it accepts (DEMO_API_KEY by default)
        emu.set_faults(error_rate=0.2, ambiguous_rate=0.05, latency_ms=50)
        emu.stats()["requests"]       # {batch_id: {reference_id: {"received": n, "applied": n}}}
        emu.reset()

From the shell: ``syllable-upload emulator --port 8000 --error-rate 0.1 --db state.sqlite``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from uploader.emulator.settings import DEMO_API_KEY, EmulatorSettings, FaultSettings

if TYPE_CHECKING:
    from uploader.emulator.app import ADMIN_PREFIX, API_PREFIX, create_app
    from uploader.emulator.server import EmulatorHandle, running_emulator, serve

__all__ = [
    "ADMIN_PREFIX",
    "API_PREFIX",
    "DEMO_API_KEY",
    "EmulatorHandle",
    "EmulatorSettings",
    "FaultSettings",
    "create_app",
    "running_emulator",
    "serve",
]

# FastAPI and uvicorn load only when used, so ``syllable-upload --help`` and the other commands
# do not pay for the emulator's imports.
_LAZY = {
    "ADMIN_PREFIX": "uploader.emulator.app",
    "API_PREFIX": "uploader.emulator.app",
    "create_app": "uploader.emulator.app",
    "EmulatorHandle": "uploader.emulator.server",
    "running_emulator": "uploader.emulator.server",
    "serve": "uploader.emulator.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uploader.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
