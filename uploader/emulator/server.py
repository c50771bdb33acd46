"""Running the emulator: in-process on a free loopback port (tests, demo) or in the foreground.

``running_emulator`` starts uvicorn in a background thread and yields an :class:`EmulatorHandle`
that talks to the admin API over HTTP, so the same handle class also drives an emulator running
in another process (``EmulatorHandle(url, api_key)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn

from uploader.emulator.app import ADMIN_PREFIX, create_app
from uploader.emulator.settings import EmulatorSettings

__all__ = ["EmulatorHandle", "bind_socket", "running_emulator", "serve"]

log = logging.getLogger("uploader.emulator")


class EmulatorHandle:
    """A running emulator: its URL, a key it accepts, and its admin API as methods."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self.api_key = api_key
        self._admin = httpx.Client(base_url=url + ADMIN_PREFIX, timeout=timeout, trust_env=False)

    def close(self) -> None:
        admin = getattr(self, "_admin", None)
        if admin is not None:
            admin.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._admin.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ValueError(f"emulator admin {method} {path}: {response.text}")
        return response.json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Change some fault knobs (the others keep their values); returns all of them."""
        return dict(self._call("POST", "/faults", json=faults))

    def clear_faults(self) -> dict[str, Any]:
        return dict(self._call("DELETE", "/faults"))

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "/faults"))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change simulation knobs at run time (time_scale, default_call_rate, success_rate...)."""
        return dict(self._call("POST", "/config", json=changes))

    def stats(self, batch_id: str | None = None, *, requests: bool = True) -> dict[str, Any]:
        """Counters: per (batch_id, reference_id) received/applied, creates, faults by kind."""
        params: dict[str, Any] = {"requests": requests}
        if batch_id is not None:
            params["batch_id"] = batch_id
        return dict(self._call("GET", "/stats", params=params))

    def reset(self) -> None:
        """Forget every batch and count; faults and knobs back to the starting settings."""
        self._call("POST", "/reset")

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def __repr__(self) -> str:
        return f"EmulatorHandle(url={self.url!r})"


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (port 0: a free port) before serving, so the URL is known before the first request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _config(settings: EmulatorSettings, **overrides: Any) -> uvicorn.Config:
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 2,
        "timeout_keep_alive": 30,
        "backlog": 2048,
    }
    options.update(overrides)
    return uvicorn.Config(create_app(settings), **options)


@contextlib.contextmanager
def running_emulator(
    settings: EmulatorSettings | None = None, *, startup_timeout: float = 20.0
) -> Iterator[EmulatorHandle]:
    """Serve an emulator on a free loopback port in a background thread for the ``with`` block."""
    settings = settings or EmulatorSettings()
    sock = bind_socket(settings.host, settings.port)
    server = uvicorn.Server(_config(settings, loop="asyncio", http="httptools"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="emulator", daemon=True
    )
    thread.start()
    handle = EmulatorHandle(_url(sock, settings.host), settings.api_keys[0])
    try:
        waited = 0.0
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator failed to start (see the log)")
            if waited > startup_timeout:
                raise RuntimeError(f"the emulator did not start within {startup_timeout} s")
            threading.Event().wait(0.01)
            waited += 0.01
        yield handle
    finally:
        handle.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve(
    settings: EmulatorSettings,
    *,
    on_ready: Callable[[str], None] | None = None,
    fast: bool = True,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; ``on_ready(url)`` once it accepts requests."""
    sock = bind_socket(settings.host, settings.port)
    url = _url(sock, settings.host)
    overrides: dict[str, Any] = {}
    if fast:
        overrides = {"loop": "uvloop", "http": "httptools"}
    server = uvicorn.Server(_config(settings, **overrides))

    async def main() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            on_ready(url)
        await task

    try:
        if fast:
            import uvloop

            uvloop.run(main())
        else:
            asyncio.run(main())
    finally:
        sock.close()
