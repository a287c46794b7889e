"""Round trip of one MCP tool call over stdio and streamable HTTP, outside the tool's own work.

The server is tests/mcp/tiny_server.py (the official SDK's ``MCPServer``); its ``echo`` tool does
no work, so the time is the transport, the SDK on both sides and aiw's own path: ``hub`` is
``McpHub.call`` (what ``aiw mcp call`` uses), ``toolbox`` adds what a model's call goes through
(approval lookup, control-sequence stripping, redaction, the size cut). Start-up (spawning the
server, the handshake, listing tools) is timed separately. Target: p50 ≤ 5 ms per call.

``--first-frame`` also times the workbench's first frame (bench/first_frame.py's machinery: `aiw`
in tmux until the prompt shows) with three MCP servers configured against none, interleaved run
by run; ``--cpu`` adds the CPU time each process had used by then. The servers start after the
frame (tui/boot.py), so the two should not differ beyond noise.

    python bench/mcp.py [--calls 300] [--check] [--first-frame [--runs 5] [--cpu]]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/mcp.py`, this file's folder comes first on sys.path, and this file would
# shadow the SDK's `mcp` package: take the folder off.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from ai_workbench.core.llm.tools import ToolCall  # noqa: E402
from ai_workbench.mcp.config import ServerSpec  # noqa: E402
from ai_workbench.mcp.hub import McpHub  # noqa: E402
from ai_workbench.mcp.toolbox import McpToolbox  # noqa: E402

TARGET_MS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the HTTP server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the HTTP server did not start")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(spec: ServerSpec, calls: int) -> dict[str, float]:
    started = time.perf_counter()
    async with McpHub([spec], call_timeout=30) as hub:
        (conn,) = await hub.start()
        if conn.state != "ready":
            raise SystemExit(f"{spec.name}: {conn.describe()}")
        start_ms = (time.perf_counter() - started) * 1000
        for _ in range(20):  # warm-up
            await hub.call(spec.name, "echo", {"text": "warm"})
        raw: list[float] = []
        for i in range(calls):
            t = time.perf_counter()
            await hub.call(spec.name, "echo", {"text": f"call {i}"})
            raw.append((time.perf_counter() - t) * 1000)
        box = McpToolbox(hub, [spec.name])
        via_box: list[float] = []
        name = f"mcp__{spec.name}__echo"
        for i in range(calls):
            call = ToolCall(i, f"c{i}", name, "", {"text": f"call {i}"})
            t = time.perf_counter()
            outcome = await box.call(call)
            via_box.append((time.perf_counter() - t) * 1000)
            assert outcome.text == f"echo: call {i}", outcome.text
    return {
        "start_ms": start_ms,
        "hub_p50": statistics.median(raw),
        "hub_p95": _pct(raw, 0.95),
        "box_p50": statistics.median(via_box),
        "box_p95": _pct(via_box, 0.95),
    }


def _first_frame_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("first_frame", HERE / "first_frame.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_frame(runs: int, cpu: bool) -> int:
    """The workbench's first frame with three MCP servers configured vs none (this checkout's
    code first on PYTHONPATH for both)."""
    import json
    import shutil
    import tempfile

    ff = _first_frame_module()
    aiw = ff.BIN / "aiw"
    if shutil.which("tmux") is None or not aiw.exists():
        print("--first-frame needs tmux and the aiw script in the venv", file=sys.stderr)
        return 2
    homes = {
        name: Path(tempfile.mkdtemp(prefix=f"aiw-mcp-frame-{name}-")) for name in ("none", "mcp3")
    }
    config = homes["mcp3"] / "config" / "aiw" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "".join(
            f"[mcp.servers.tiny{i}]\ncommand = {json.dumps(sys.executable)}\n"
            f'args = ["-m", "tests.mcp.tiny_server"]\ncwd = {json.dumps(str(REPO_ROOT))}\n'
            f"env = {{ PYTHONPATH = {json.dumps(str(REPO_ROOT))} }}\n\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    subprocess.run([*ff.TMUX, "new-session", "-d", "-s", "keeper", "sleep 3600"], check=True)
    times: dict[str, list[float]] = {"none": [], "mcp3": []}
    cpus: dict[str, list[float]] = {"none": [], "mcp3": []}
    try:
        for name, home in homes.items():  # warm-up: .pyc files, config, database
            if ff.time_once([str(aiw)], ff.AIW_MARKER, name, str(REPO_ROOT), home) is None:
                return 1
        for run in range(runs):
            order = list(homes.items())[:: 1 if run % 2 == 0 else -1]
            for name, home in order:
                took = ff.time_once([str(aiw)], ff.AIW_MARKER, name, str(REPO_ROOT), home)
                if took is None:
                    return 1
                times[name].append(took[0])
                if took[1] is not None:
                    cpus[name].append(took[1])
    finally:
        subprocess.run([*ff.TMUX, "kill-server"], capture_output=True)
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    print("Workbench first frame: 'none' = no MCP server configured, 'mcp3' = three (stdio)")
    wall = {name: ff.report(name, values) for name, values in times.items()}
    print(f"mcp3/none: {wall['mcp3'] / wall['none']:.2f}x")
    if cpu and all(cpus.values()):
        used = {name: ff.report(name, values, "CPU until frame") for name, values in cpus.items()}
        print(f"mcp3/none CPU: {used['mcp3'] / used['none']:.2f}x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--check", action="store_true", help="exit 1 if a p50 is over target")
    parser.add_argument(
        "--first-frame", action="store_true", help="also the workbench's first frame, 3 vs 0"
    )
    parser.add_argument("--runs", type=int, default=5, help="first-frame runs per setup")
    parser.add_argument("--cpu", action="store_true", help="first frame: also the CPU time")
    args = parser.parse_args()
    if args.first_frame:
        code = first_frame(args.runs, args.cpu)
        if code:
            return code

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    stdio = ServerSpec(
        "stdio", "bench", command=sys.executable, args=["-m", "tests.mcp.tiny_server"],
        env={"PYTHONPATH": str(REPO_ROOT)}, cwd=str(REPO_ROOT), approval="auto",
    )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mcp.tiny_server", "--http", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(port, proc)
        http = ServerSpec("http", "bench", url=f"http://127.0.0.1:{port}/mcp", approval="auto")
        results = {
            "stdio": asyncio.run(_measure(stdio, args.calls)),
            "http": asyncio.run(_measure(http, args.calls)),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"MCP tool call round trip, {args.calls} calls each (tests/mcp/tiny_server.py echo)")
    print(
        f"{'transport':<10}{'start':>10}{'hub p50':>10}{'hub p95':>10}"
        f"{'box p50':>10}{'box p95':>10}"
    )
    over = False
    for name, r in results.items():
        print(
            f"{name:<10}{r['start_ms']:>8.0f}ms{r['hub_p50']:>8.2f}ms{r['hub_p95']:>8.2f}ms"
            f"{r['box_p50']:>8.2f}ms{r['box_p95']:>8.2f}ms"
        )
        over = over or max(r["hub_p50"], r["box_p50"]) > TARGET_MS
    print(f"target: p50 <= {TARGET_MS:g} ms per call: {'MISSED' if over else 'met'}")
    return 1 if over and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
