"""The emulator as a real child process (``syllable-upload emulator``), for crash and load tests.

``EmulatorProcess`` starts ``python -m uploader emulator --port 0 ...``, reads the URL from its
ready line, and can SIGKILL and restart it on the same port and the same ``--db``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from uploader.emulator.server import EmulatorHandle
from uploader.emulator.settings import DEMO_API_KEY

__all__ = ["EmulatorProcess"]

_READY = re.compile(r"emulator ready at (http://\S+)")


class EmulatorProcess(EmulatorHandle):
    """A ``syllable-upload emulator`` child process plus its admin handle (``url``, ``api_key``)."""

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        db_path: Path | None = None,
        api_key: str = DEMO_API_KEY,
        port: int = 0,
        taskset: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.args = list(args)
        self.db_path = db_path
        self.port = port
        self.taskset = taskset
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._pump: threading.Thread | None = None
        self._api_key = api_key
        self._start()

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "uploader", "emulator", "--port", str(self.port)]
        if self.db_path is not None:
            cmd += ["--db", str(self.db_path)]
        if self._api_key != DEMO_API_KEY and "--api-key" not in self.args:
            cmd += ["--api-key", self._api_key]
        cmd += self.args
        if self.taskset:
            cmd = ["taskset", "-c", self.taskset, *cmd]
        return cmd

    def _start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self._command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        url = self._wait_ready(self.proc)
        self.port = int(url.rsplit(":", 1)[1])
        super().__init__(url, self._api_key)

    def _wait_ready(self, proc: subprocess.Popen[str]) -> str:
        found: list[str] = []
        done = threading.Event()

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line)
                match = _READY.search(line)
                if match and not found:
                    found.append(match.group(1))
                    done.set()
            done.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + self.startup_timeout
        while not done.wait(0.05):
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(10)
                self._reap()
                raise RuntimeError(f"emulator did not start: {''.join(self.output)[-2000:]}")
        if not found:
            proc.wait(5)
            self._reap()
            raise RuntimeError(
                f"emulator exited ({proc.returncode}): {''.join(self.output)[-2000:]}"
            )
        return found[0]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _reap(self) -> None:
        if self._pump is not None:
            self._pump.join(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (what a crash or the OOM killer does)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._reap()

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reap()

    def restart(self) -> None:
        """Start again on the same port and ``--db`` (after :meth:`kill` or :meth:`stop`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self._start()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
