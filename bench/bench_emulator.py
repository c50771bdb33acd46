"""Throughput of the emulator for small requests, next to a trivial FastAPI app in the same run.

The server runs as a real process pinned to core 0 (uvicorn, uvloop, httptools, no access log) and
wrk drives it from core 1. Each figure is the best of ``--rounds`` measurements of ``--seconds``
each, taken in interleaved rounds; the ratio column compares with the trivial app measured the
same way, so a busy machine shows up in both. ``req/CPU-s`` divides the requests by the CPU time
the server process used: the rate one whole core would sustain, and much less sensitive to other
programs sharing the core.

    .venv/bin/python bench/bench_emulator.py [--seconds 4] [--rounds 3] [--connections 64]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and ``taskset``; prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
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
function init(args)
  prefix = args[1] or "run"
end
function request()
  counter = counter + 1
  local body = '{"reference_id":"' .. prefix .. '-t' .. tid .. '-' .. counter ..
    '","target":"+15125550100","request_variables":{"first_name":"Ada","amount":"10"}}'
  return wrk.format("POST", nil, nil, body)
end
"""


@dataclass
class Result:
    name: str
    rps: float  # wall clock: requests / seconds
    cpu_rps: float  # requests / CPU seconds the server used: what one whole core would do
    errors: int


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc), robust to other load on the core."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_RUNS = iter(range(1_000_000))


def _wrk(
    url: str, seconds: float, connections: int, headers: dict[str, str], lua: str | None
) -> tuple[float, int, int]:
    cmd = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    cmd += ["--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as tmp:
        if lua is not None:
            script = Path(tmp) / "post.lua"
            script.write_text(lua)
            cmd += ["-s", str(script)]
        run_id = f"run{next(_RUNS)}"  # unique reference ids across wrk runs
        out = subprocess.run(
            [*cmd, url, "--", run_id], capture_output=True, text=True, check=True
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return rps, total, errors


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


def _emulator(extra: list[str], headers: dict[str, str]) -> EmulatorProcess:
    emu = EmulatorProcess(extra, taskset="0")
    with httpx.Client(base_url=emu.url, headers=headers, timeout=30) as client:
        for batch in ("bench-get", "bench-add"):
            body = {"batch_id": batch, "campaign_id": 1, "paused": True}
            client.post(API_PREFIX, json=body).raise_for_status()
    return emu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per case (best kept)")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (Debian: apt-get install -y {tool})")
    json_headers = {"Content-Type": "application/json"}
    api_headers = {"Syllable-API-Key": DEMO_API_KEY, **json_headers}
    results: dict[str, Result] = {}
    # Every server runs at once on core 0 (idle ones cost nothing) and the cases are measured
    # in interleaved rounds, keeping each case's best: load from other programs on this shared
    # machine then hits the trivial app and the emulator alike.
    with tempfile.TemporaryDirectory() as tmp:
        trivial, trivial_url = _start_trivial()
        emulators = {
            "": _emulator([], api_headers),
            " --db": _emulator(["--db", str(Path(tmp) / "bench.sqlite")], api_headers),
            " latency 50ms": _emulator(["--latency-ms", "50"], api_headers),
        }
        plain = emulators[""].url + API_PREFIX
        plain_pid = emulators[""].pid
        cases: list[tuple[str, str, dict[str, str], str | None, int]] = [
            ("trivial GET", f"{trivial_url}/item/abc", json_headers, None, trivial.pid),
            ("emulator GET get_by_id", f"{plain}/bench-get", api_headers, None, plain_pid),
            ("trivial POST", f"{trivial_url}/item/abc", json_headers, POST_LUA, trivial.pid),
            ("emulator POST add", f"{plain}/bench-add/requests", api_headers, POST_LUA, plain_pid),
        ]
        for label in (" --db", " latency 50ms"):
            url = f"{emulators[label].url}{API_PREFIX}/bench-add/requests"
            pid = emulators[label].pid
            cases.append((f"emulator POST add{label}", url, api_headers, POST_LUA, pid))
        try:
            for _, url, headers, lua, _pid in cases:
                _wrk(url, 1, args.connections, headers, lua)  # warm up
            for _ in range(args.rounds):
                for name, url, headers, lua, pid in cases:
                    cpu_before = _cpu_seconds(pid)
                    rps, total, errors = _wrk(url, args.seconds, args.connections, headers, lua)
                    cpu_rps = total / max(_cpu_seconds(pid) - cpu_before, 1e-9)
                    best = results.get(name)
                    results[name] = Result(
                        name,
                        max(rps, best.rps if best else 0.0),
                        max(cpu_rps, best.cpu_rps if best else 0.0),
                        errors + (best.errors if best else 0),
                    )
            for label, emu in emulators.items():
                stats = emu.stats(requests=False)
                print(
                    f"  (emulator{label}: {stats['requests_applied']} adds applied, "
                    f"{stats['api_requests']} API requests)",
                    file=sys.stderr,
                )
        finally:
            trivial.terminate()
            trivial.wait()
            for emu in emulators.values():
                emu.stop()

    print(
        f"{'case':32} {'req/s':>8} {'vs trivial':>10} {'req/CPU-s':>10} {'vs trivial':>10} "
        f"{'errors':>6}"
    )
    for name, res in results.items():
        base = results["trivial POST" if "POST" in name else "trivial GET"]
        print(
            f"{name:32} {res.rps:8.0f} {res.rps / base.rps:9.2f}x {res.cpu_rps:10.0f} "
            f"{res.cpu_rps / base.cpu_rps:9.2f}x {res.errors:6d}"
        )
    print(
        json.dumps(
            {k: {"rps": round(v.rps), "rps_per_cpu": round(v.cpu_rps)} for k, v in results.items()}
        )
    )


if __name__ == "__main__":
    main()
