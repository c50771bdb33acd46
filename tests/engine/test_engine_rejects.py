"""A 422 on one row refuses that row only, with the server's own message; the run goes on.

Rows this tool validated never fail the emulator's schema, so the test serves the real emulator
app behind a thin ASGI layer that blanks the ``target`` of one chosen ``reference_id`` on its way
in. The 422 (status and message) is then produced by the emulator's own FastAPI validation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from engine_helpers import client_config, write_contacts

from uploader import upload
from uploader.config import ReadOptions, UploadOptions
from uploader.emulator import DEMO_API_KEY, EmulatorSettings, create_app
from uploader.emulator.server import bind_socket
from uploader.models import RowStatus

POISONED = "M000007"


def blank_target_of(app: Any, reference_id: str) -> Any:
    """ASGI wrapper: the add request for ``reference_id`` reaches the app with ``target: ""``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/requests"):
            await app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.loads(body)
        if data.get("reference_id") == reference_id:
            data["target"] = ""
        body = json.dumps(data).encode()
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(dict(scope, headers=headers), replay, send)

    return wrapped


@pytest.fixture
def strict_emulator() -> Iterator[str]:
    app = create_app(EmulatorSettings(seed=5))
    config = uvicorn.Config(
        blank_target_of(app, POISONED), log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    sock = bind_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_422_rejects_only_that_row_with_the_servers_message(
    strict_emulator: str, tmp_path: Path
) -> None:
    expected = write_contacts(tmp_path / "contacts.csv", 40)
    options = UploadOptions(
        campaign_id=3, mode="add", journal_path=tmp_path / "j.sqlite3", concurrency=4
    )
    result = upload(
        tmp_path / "contacts.csv",
        ReadOptions(),
        options,
        client_config(strict_emulator, DEMO_API_KEY),
    )
    row = expected.row_of[POISONED]
    outcome = result.outcomes[row]
    assert outcome.status == RowStatus.REJECTED
    assert outcome.error == "target: String should have at least 1 character"
    others = {n: o.status for n, o in result.outcomes.items() if n != row}
    assert set(others.values()) == {RowStatus.ACCEPTED}
    assert result.exit_code == 1
    # the batch holds the other rows and was still verified and activated
    assert [b.state for b in result.batches] == ["active"]
    assert result.counts["rejected"] == 1 and result.counts["accepted"] == 39
