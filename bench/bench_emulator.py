"""Throughput of the emulator for small requests, next to a trivial FastAPI app in the same run.

The server runs as a real process pinned to core 0 (uvicorn, uvloop, httptools, no access log) and
wrk drives it from core 1. Each figure is requests per second over ``--seconds``; the ratio column
compares with the trivial app measured the same way, so a busy machine shows up in both.

    .venv/bin/python bench/bench_emulator.py [--seconds 10] [--connections 64]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and ``taskset``; prints one table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uploader.emulator import API_PREFIX, DEMO_API_KEY
from uploader.emulator.process import EmulatorProcess

TRIVIAL_APP = """
import socket, sys, uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()

class Item(BaseModel):
    reference_id: str
    target: str
    request_variables: dict[str, str]

@app.get("/item/{item_id}")
async def get_item(item_id: str) -> dict:
    return {"item_id": item_id}

@app.post("/item/{item_id}")
async def post_item(item_id: str, item: Item) -> dict:
    return {"item_id": item_id, "reference_id": item.reference_id}

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
print("ready", sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, loop="uvloop", http="httptools", access_log=False, log_level="warning")
uvicorn.Server(config).run(sockets=[sock])
"""

POST_LUA = """
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local body = '{"reference_id":"t' .. tid .. '-' .. counter ..
    '","target":"+15125550100","request_variables":{"first_name":"Ada","amount":"10"}}'
  return wrk.format("POST", nil, nil, body)
end
"""


@dataclass
class Result:
    name: str
    rps: float
    errors: int


def _wrk(
    url: str, seconds: int, connections: int, headers: dict[str, str], lua: str | None
) -> tuple[float, int]:
    cmd = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as tmp:
        if lua is not None:
            script = Path(tmp) / "post.lua"
            script.write_text(lua)
            cmd += ["-s", str(script)]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return rps, errors


def _start_trivial() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-c", TRIVIAL_APP],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = int(line.split()[1])
    _wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def _wait_port(port: int) -> None:
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (Debian: apt-get install -y {tool})")
    secs, conns = args.seconds, args.connections
    json_headers = {"Content-Type": "application/json"}
    results: dict[str, Result] = {}

    trivial, trivial_url = _start_trivial()
    try:
        for name, url, lua in [
            ("trivial GET", f"{trivial_url}/item/abc", None),
            ("trivial POST", f"{trivial_url}/item/abc", POST_LUA),
        ]:
            _wrk(url, 1, conns, json_headers, lua)  # warm up
            rps, errors = _wrk(url, secs, conns, json_headers, lua)
            results[name] = Result(name, rps, errors)
    finally:
        trivial.terminate()
        trivial.wait()

    api_headers = {"Syllable-API-Key": DEMO_API_KEY, **json_headers}
    for label, extra in [("", []), (" --db", ["--db"]), (" latency 50ms", ["--latency-ms", "50"])]:
        with tempfile.TemporaryDirectory() as tmp:
            cli_args = [*extra]
            if "--db" in cli_args:
                cli_args.append(str(Path(tmp) / "bench.sqlite"))
            emu = EmulatorProcess(cli_args, taskset="0")
            try:
                with httpx.Client(base_url=emu.url, headers=api_headers, timeout=30) as client:
                    for batch in ("bench-get", "bench-add", "bench-warm"):
                        body = {"batch_id": batch, "campaign_id": 1, "paused": True}
                        client.post(API_PREFIX, json=body).raise_for_status()
                get_url = f"{emu.url}{API_PREFIX}/bench-get"
                add_url = f"{emu.url}{API_PREFIX}/bench-add/requests"
                _wrk(f"{emu.url}{API_PREFIX}/bench-warm/requests", 1, conns, api_headers, POST_LUA)
                if not label:
                    rps, errors = _wrk(get_url, secs, conns, api_headers, None)
                    results["emulator GET get_by_id"] = Result("GET", rps, errors)
                rps, errors = _wrk(add_url, secs, conns, api_headers, POST_LUA)
                results[f"emulator POST add{label}"] = Result("POST", rps, errors)
                applied = emu.stats(requests=False)["requests_applied"]
            finally:
                emu.stop()
            print(f"  (emulator{label}: {applied} requests applied)", file=sys.stderr)

    print(f"{'case':32} {'req/s':>9} {'errors':>7} {'vs trivial':>10}")
    for name, res in results.items():
        base = results["trivial POST" if "POST" in name else "trivial GET"].rps
        ratio = f"{res.rps / base:9.2f}x"
        print(f"{name:32} {res.rps:9.0f} {res.errors:7d} {ratio:>10}")
    print(json.dumps({k: round(v.rps) for k, v in results.items()}))


if __name__ == "__main__":
    main()
